"""Time parsing and the three wire formats the replayed services use."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# djangopackages runs on New York time: offsets are -05:00 or -04:00 depending on DST.
NEW_YORK = ZoneInfo("America/New_York")


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime, or None for anything unusable; naive values are New York time."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=NEW_YORK)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: years 1 and 9999 leave datetime's range in UTC
        return None


def api_time(moment: datetime, *, micro: bool) -> str:
    """djangopackages style: `2026-02-16T00:02:41.505591-05:00` (last_updated has no fraction)."""
    return moment.astimezone(NEW_YORK).isoformat(timespec="microseconds" if micro else "seconds")


def github_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def at_utc(day: date, seconds: float = 0.0) -> datetime:
    """`seconds` after midnight UTC of `day`, at microsecond resolution."""
    return datetime.combine(day, time(), UTC) + timedelta(seconds=round(seconds, 6))


def week_index(day: date) -> int:
    """Weeks start on Sunday, as in GitHub's participation statistics (ordinal 7 is a Sunday)."""
    return day.toordinal() // 7
