"""The plain words behind a score: why a package scores what it does, in one line."""

from __future__ import annotations

from collections.abc import Mapping

from warehouse.scoring.constants import DPAS1, ScoreConstants
from warehouse.scoring.versions import SCORE_VERSIONS


def _weeks_phrase(weeks: float) -> str:
    whole = round(weeks)
    if whole == 0:
        return "this week"
    return "1 week ago" if whole == 1 else f"{whole} weeks ago"


def explain(row: Mapping[str, object]) -> str:
    """The plain-words reason for one `score_packages` row, e.g. "last commit 31 weeks ago; active in 4 of
    13 four-week blocks; 10 commits in the window, declining"."""
    known = SCORE_VERSIONS.get(str(row.get("score_version")))
    # A row of a version this process does not know is described with DPAS-1's blocks and cap.
    c = known.constants if known else DPAS1
    coverage = row.get("coverage")
    if coverage == "unknown":
        return "no weekly commit data and no last commit date: activity unknown"
    gap = _number(row, "gap_weeks")
    if row.get("censored"):
        parts = [f"no commit in the weekly data and no last commit date; gap taken as {round(gap)} weeks"]
    else:
        parts = [f"last commit {_weeks_phrase(gap)}"]
    if coverage == "recency_only":
        parts.append("no weekly commit data, so the score rests on the last commit date alone")
    else:
        share = _number(row, "consistency")
        if coverage == "full":
            # With every week observed, the share is exactly active blocks / all blocks.
            blocks = -(-c.window // c.block_weeks)
            parts.append(f"active in {round(share * blocks)} of {blocks} {_block_name(c)} blocks")
        else:
            parts.append(f"active in {share:.0%} of the observed {_block_name(c)} blocks (partial data)")
        commits = round(_number(row, "commits_52w"))
        volume = f"{commits} commit{'' if commits == 1 else 's'} in the window"
        trend = row.get("trend")
        parts.append(volume if trend in (None, "n/a") else f"{volume}, {trend}")
        stale = _number(row, "stale_weeks")
        if stale >= 1:
            parts.append(f"weekly data {round(stale)} weeks old")
        dumps = round(_number(row, "dump_weeks"))
        if dumps:
            parts.append(
                f"{dumps} week{'' if dumps == 1 else 's'} above {c.week_cap} commits counted as {c.week_cap}"
            )
    if row.get("inconsistent"):
        parts.append("the last commit date and the weekly data disagree")
    if row.get("archived"):
        parts.append("repository archived")
    return "; ".join(parts)


def _number(row: Mapping[str, object], key: str) -> float:
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def _block_name(c: ScoreConstants) -> str:
    numbers = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
    return f"{numbers.get(c.block_weeks, str(c.block_weeks))}-week"
