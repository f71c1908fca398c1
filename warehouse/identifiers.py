"""Identifiers parsed out of djangopackages' link fields: the one place that knows their shapes.

Plain functions for one value, and polars expressions over a column that apply them. Hosts are
recognised by name only to classify repositories; PyPI links are parsed by their path, whatever the host
(the legacy ``/pypi/NAME`` and current ``/project/NAME/`` forms, a bare name, or a URL pasted inside
another URL), because the index's address is a setting and the catalogue links to old and mistyped hosts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import polars as pl

_HOSTS = {
    "github": r"(?i)^(?:(?:https?|git|ssh|git\+https|git\+ssh)://(?:[\w.-]+@)?(?:www\.)?github\.com[/:]|git@github\.com:)",
    "gitlab": r"(?i)^https?://(?:www\.)?gitlab\.com/",
    "bitbucket": r"(?i)^https?://(?:www\.)?bitbucket\.org/",
    "codeberg": r"(?i)^https?://(?:www\.)?codeberg\.org/",
}

# Account names GitHub reserves for its own pages: /orgs/x, /topics/x, ... are not repositories.
_RESERVED_OWNERS = frozenset(
    {
        "about", "apps", "collections", "enterprise", "enterprises", "events", "explore", "features",
        "login", "marketplace", "new", "notifications", "organizations", "orgs", "pricing", "pulls",
        "search", "settings", "site", "sponsors", "topics", "trending", "users",
    }
)  # fmt: skip
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!//).*)$")
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})


def github_repository(repo_url: str | None) -> str | None:
    """``owner/name`` of a GitHub repository link as written, else None.

    The one place that knows GitHub's URL shapes: https, http, git, ssh and ``git@github.com:o/n``
    forms; a ``.git`` suffix, trailing slash, query, fragment and deeper paths (``/tree/main/docs``)
    are ignored. Other hosts, profile pages and GitHub's own pages give None.
    """
    if not isinstance(repo_url, str) or not repo_url:
        return None
    text = repo_url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket: a link to nothing
        return None
    if parts.scheme and parts.netloc:
        host, path = parts.hostname or "", parts.path
    else:
        scp = _SCP_LIKE.match(text)
        if scp is None:
            return None
        host, path = scp["host"].lower(), scp["path"]
    if parts.scheme and parts.scheme.lower() not in ("http", "https", "git", "ssh", "git+https", "git+ssh"):
        return None
    if host not in _GITHUB_HOSTS:
        return None
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        return None
    owner, name = segments[0], segments[1]
    if name.lower().endswith(".git"):
        name = name[:-4]
    if owner.lower() in _RESERVED_OWNERS or not _OWNER.fullmatch(owner):
        return None
    if name in ("", ".", "..") or not _NAME.fullmatch(name):
        return None
    return f"{owner}/{name}"


def github_full_name(repo_url: str | None) -> str | None:
    """``owner/name`` in lower case: GitHub names are case-insensitive, so one repository is one key."""
    repository = github_repository(repo_url)
    return repository.lower() if repository else None


# PEP 508 project names: letters, digits and . _ -, starting and ending with a letter or digit.
_PROJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
# A pasted URL inside another URL leaves several markers; the last one names the project.
_MARKER = re.compile(r"/(?:pypi|project)/")


def pypi_project_name(pypi_url: str | None) -> str | None:
    """The project name (as written, not normalized) a ``pypi_url`` points at, else None.

    Accepts a bare name, ``…/pypi/NAME[/…]``, ``…/project/NAME/`` and a URL pasted inside another
    URL (the segment after the last marker); queries, fragments and deeper paths are ignored.
    """
    if not isinstance(pypi_url, str) or not pypi_url:
        return None
    text = pypi_url.strip()
    if _PROJECT.fullmatch(text):
        return text
    markers = list(_MARKER.finditer(text))
    if not markers:
        return None
    rest = text[markers[-1].end() :]
    try:
        path = urlsplit(rest).path
    except ValueError:
        return None
    segment = unquote(path.split("/", 1)[0]).strip()
    return segment if _PROJECT.fullmatch(segment) else None


_FORGE_HOSTS = {"gitlab.com": "gitlab", "www.gitlab.com": "gitlab", "bitbucket.org": "bitbucket",
                "www.bitbucket.org": "bitbucket"}  # fmt: skip
# A URL whose host is one of _FORGE_HOSTS has that name in its text (in any case: a host is read lower-cased).
_FORGE_HOST_TEXT = r"(?i)gitlab\.com|bitbucket\.org"
_FORGE_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,255}")


def forge_repository(repo_url: str | None) -> tuple[str, str] | None:
    """(``gitlab`` | ``bitbucket``, lower-cased path) of a GitLab project or Bitbucket repository link, else
    None. GitLab paths nest groups (``group/sub/project``) and end where ``/-/`` starts its pages; Bitbucket's
    are ``workspace/repo_slug``. A ``.git`` suffix, query and fragment are ignored."""
    if not isinstance(repo_url, str):
        return None
    try:
        parts = urlsplit(repo_url.strip())
    except ValueError:
        return None
    host = _FORGE_HOSTS.get((parts.hostname or "").lower()) if parts.scheme in ("http", "https") else None
    if host is None:
        return None
    segments = [unquote(s) for s in parts.path.split("/-/", 1)[0].split("/") if s]
    if host == "bitbucket":
        segments = segments[:2]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
    if len(segments) < 2 or not all(_FORGE_SEGMENT.fullmatch(s) for s in segments):
        return None
    return host, "/".join(segments).lower()


def forge_paths(url: pl.Expr) -> pl.Expr:
    """``host:path`` per repository URL for GitLab and Bitbucket (see ``forge_repository``), else null.
    Only a URL that names one of their hosts is parsed in Python: most of a catalogue's are on GitHub."""
    return (
        pl.when(url.str.contains(_FORGE_HOST_TEXT))
        .then(url)
        .map_elements(
            lambda u: (found := forge_repository(u)) and f"{found[0]}:{found[1]}",
            return_dtype=pl.String,
            skip_nulls=True,
        )
    )


def normalize_name(name: str) -> str:
    """PEP 503: runs of ``-``, ``_`` and ``.`` become one ``-``; lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def repo_host(url: pl.Expr) -> pl.Expr:
    """github | gitlab | bitbucket | codeberg | other | none (no URL)."""
    cleaned = url.str.strip_chars()
    # The first condition that holds names the host: a `when` without `otherwise` is null where it fails.
    return pl.coalesce(
        pl.when(cleaned.is_null() | (cleaned == "")).then(pl.lit("none")),
        *(pl.when(cleaned.str.contains(pattern)).then(pl.lit(name)) for name, pattern in _HOSTS.items()),
        pl.lit("other"),
    )


# The common shape of a GitHub repository link, read in polars; any other goes to github_full_name. The
# owner and name are those _OWNER and _NAME accept, a name ending in .git (which Python strips) excepted.
_PLAIN_GITHUB = r"^https?://(?:www\.)?github\.com/([A-Za-z0-9][A-Za-z0-9-]{0,38})/([A-Za-z0-9._-]{1,100})/?$"
# The common shapes of a PyPI link, a bare name and .../pypi/NAME or .../project/NAME, read in polars; any
# other goes to pypi_project_name. A name is what _PROJECT accepts.
_PLAIN_PYPI = (
    r"^(?:https?://[A-Za-z0-9.-]+/(?:pypi|project)/)?([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:/|$)$"
)


def _in_bulk(
    value: pl.Expr, plain: pl.Expr, each: Callable[[str], str | None], may: str | None = None
) -> pl.Expr:
    """``plain`` (the answer where it is not null) else ``each`` of the value, called in Python only for the
    values ``plain`` has no answer for (and, given ``may``, that match it: a pattern every value ``each``
    has an answer for matches). ``plain`` is computed once: an expression used twice is computed twice."""

    def answered(both: pl.Series) -> pl.Series:
        found, values = both.struct.field("plain"), both.struct.field("value")
        ask = found.is_null() & values.is_not_null()
        if may is not None:
            ask &= values.str.contains(may)
        asked = [each(text) for text in values.filter(ask)]
        return found.scatter(ask.arg_true(), pl.Series(asked, dtype=pl.String)) if asked else found

    return pl.struct(plain.alias("plain"), value.alias("value")).map_batches(answered, return_dtype=pl.String)


def github_full_names(url: pl.Expr) -> pl.Expr:
    """``owner/name`` (lower case) per repository URL, null for anything that is not a GitHub repository."""
    owner, name = (url.str.extract(_PLAIN_GITHUB, group) for group in (1, 2))
    plain = (
        pl.when(
            ~owner.str.to_lowercase().is_in(list(_RESERVED_OWNERS))
            & ~name.str.to_lowercase().str.ends_with(".git")
            & ~name.is_in([".", ".."])
        )
        .then(pl.concat_str(owner, pl.lit("/"), name))
        .str.to_lowercase()
    )
    # A GitHub host is read lower-cased from the text, so its name is in it (no other letter lower-cases to
    # one of its): a link to another host is no repository without asking Python (a catalogue's 6,000).
    return _in_bulk(url, plain, github_full_name, may=r"(?i)github\.com")


def pypi_names(pypi_url: pl.Expr) -> pl.Expr:
    """The PEP 503 normalized PyPI project name per ``pypi_url``, null where it names none."""
    plain = pypi_url.str.extract(_PLAIN_PYPI, 1).str.replace_all(r"[-_.]+", "-").str.to_lowercase()
    return _in_bulk(pypi_url, plain, lambda url: (name := pypi_project_name(url)) and normalize_name(name))


def linked_id(link: pl.Expr, resource: str) -> pl.Expr:
    """The id in an API hyperlink such as ``…/api/v4/categories/3/?format=api``; null for anything else,
    an id of 0 or one too large for Int64 included."""
    return link.str.extract(rf"/{resource}/([1-9]\d*)/?(?:\?.*)?$", 1).cast(pl.Int64, strict=False)
