"""Identifiers parsed out of djangopackages' link fields, as polars expressions.

The one place that knows the shapes of repository URLs, PyPI links and API hyperlinks. Hosts are
recognised by name only to classify repositories; PyPI links are parsed by their path, whatever the
host (the legacy ``/pypi/NAME`` and the current ``/project/NAME/`` forms, a bare name, or a URL pasted
inside another URL).
"""

from __future__ import annotations

import polars as pl

_HOSTS = {
    "github": r"(?i)^(?:https?|git|ssh)://(?:www\.)?github\.com[/:]",
    "gitlab": r"(?i)^https?://(?:www\.)?gitlab\.com/",
    "bitbucket": r"(?i)^https?://(?:www\.)?bitbucket\.org/",
    "codeberg": r"(?i)^https?://(?:www\.)?codeberg\.org/",
}
_GITHUB_REPO = r"(?i)^(?:https?|git|ssh)://(?:www\.)?github\.com[/:]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)"


def repo_host(url: pl.Expr) -> pl.Expr:
    """github | gitlab | bitbucket | codeberg | other | none (no URL)."""
    cleaned = url.str.strip_chars()
    expr = pl.when(cleaned.is_null() | (cleaned == "")).then(pl.lit("none"))
    for name, pattern in _HOSTS.items():
        expr = expr.when(cleaned.str.contains(pattern)).then(pl.lit(name))
    return expr.otherwise(pl.lit("other"))


def github_full_name(url: pl.Expr) -> pl.Expr:
    """``owner/repo`` in lower case for a GitHub repository URL, else null.

    GitHub names are case-insensitive, so lower case makes one key per repository.
    """
    cleaned = url.str.strip_chars()
    owner = cleaned.str.extract(_GITHUB_REPO, 1)
    name = cleaned.str.extract(_GITHUB_REPO, 2).str.replace(r"(?i)\.git$", "")
    return (
        pl.when(owner.is_not_null() & (name != "") & ~owner.is_in(["orgs", "sponsors", "topics"]))
        .then(pl.concat_str(owner, pl.lit("/"), name).str.to_lowercase())
        .otherwise(None)
    )


def normalize_project_name(name: pl.Expr) -> pl.Expr:
    """PEP 503 normalization."""
    return name.str.replace_all(r"[-_.]+", "-").str.to_lowercase()


def pypi_name(pypi_url: pl.Expr) -> pl.Expr:
    """The normalized PyPI project name a djangopackages ``pypi_url`` points at, else null."""
    cleaned = pypi_url.str.strip_chars()
    from_path = cleaned.str.extract_all(r"/(?:pypi|project)/([A-Za-z0-9][A-Za-z0-9._-]*)").list.last()
    from_path = from_path.str.replace(r"^/(?:pypi|project)/", "")
    bare = pl.when(cleaned.str.contains(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")).then(cleaned)
    name = pl.coalesce(from_path, bare)
    return pl.when(name.is_not_null() & (name != "")).then(normalize_project_name(name)).otherwise(None)


def linked_id(link: pl.Expr, resource: str) -> pl.Expr:
    """The integer id in an API hyperlink such as ``…/api/v4/categories/3/?format=api``."""
    return link.str.extract(rf"/{resource}/(\d+)/?(?:\?.*)?$", 1).cast(pl.Int64, strict=False)


def linked_ids(links_json: pl.Expr, resource: str) -> pl.Expr:
    """The integer ids of a JSON list of hyperlinks, in order."""
    return (
        links_json.str.extract_all(rf"/{resource}/\d+/")
        .list.eval(pl.element().str.extract(r"(\d+)", 1).cast(pl.Int64))
    )
