"""The API hyperlinks of bundle records; repository and project names come from warehouse.identifiers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# More digits than any real id: a longer run links to nothing (and int() refuses 4,300 digits).
_ID = r"([0-9]{1,18})"


def api_link(url: object, kind: str) -> tuple[str, int] | None:
    """(scheme://host, id) from a `.../api/v4/{kind}/{id}/` link, with or without `?format=api`."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket in the host
        return None
    match = re.search(rf"/api/v4/{kind}/{_ID}/?$", parts.path)
    return (f"{parts.scheme}://{parts.netloc}", int(match.group(1))) if match else None
