"""The API hyperlinks of bundle records; repository and project names come from warehouse.identifiers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def api_link(url: object, kind: str) -> tuple[str, int] | None:
    """(scheme://host, id) from a `.../api/v4/{kind}/{id}/` link, with or without `?format=api`."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    match = re.search(rf"/api/v4/{kind}/(\d+)/?$", parts.path)
    return (f"{parts.scheme}://{parts.netloc}", int(match.group(1))) if match else None
