"""Which GitHub repository and which PyPI project a package record points at."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_PROJECT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
# Legacy `/pypi/NAME`, current `/project/NAME/`, and URL-in-URL forms: the last such segment names it.
_PROJECT_IN_URL = re.compile(r"/(?:pypi|project)/([^/?#]+)")


def github_full_name(repo_url: object) -> str | None:
    """`OWNER/REPO` for `http(s)://github.com/OWNER/REPO[.git][/anything]`, else None."""
    if not isinstance(repo_url, str):
        return None
    parts = urlsplit(repo_url.strip())
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in ("github.com", "www.github.com"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return None
    owner, repo = segments[0], segments[1].removesuffix(".git")
    if not (_SEGMENT.match(owner) and _SEGMENT.match(repo)):
        return None
    return f"{owner}/{repo}"


def pypi_name(pypi_url: object) -> str | None:
    """The project a `pypi_url` names: a bare name or the last `/pypi/` or `/project/` path segment."""
    if not isinstance(pypi_url, str) or not pypi_url.strip():
        return None
    text = pypi_url.strip()
    if _PROJECT.match(text):
        return text
    found = _PROJECT_IN_URL.findall(text)
    return found[-1] if found and _PROJECT.match(found[-1]) else None


def project_key(name: str) -> str:
    """PEP 503 normalization: the only spelling PyPI answers without a redirect."""
    return re.sub(r"[-_.]+", "-", name).lower()


def api_link(url: object, kind: str) -> tuple[str, int] | None:
    """(scheme://host, id) from a `.../api/v4/{kind}/{id}/` link, with or without `?format=api`."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    match = re.search(rf"/api/v4/{kind}/(\d+)/?$", parts.path)
    return (f"{parts.scheme}://{parts.netloc}", int(match.group(1))) if match else None
