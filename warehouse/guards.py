"""Dataset guards: what must hold of a captured date before it is published.

A raw day can never be captured again, so a bad day (packages gone, a short page, a field gone from
every record, a page that was not JSON) is refused rather than published, and its raw is kept for a
person to look at. ``day_facts`` reads the little the guards need from a warehouse (a staging file or
the published one); ``evaluate`` judges one date against the previous stored one. Every guard always
gives a result, so the ledger shows what was checked on a good day as well as on a bad one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Literal

import duckdb
import polars as pl

from warehouse import contracts
from warehouse.parsing import CATEGORY_FIELDS, GRID_FIELDS, PACKAGE_FIELDS
from warehouse.raw import RAW_TEXT
from warehouse.store import Warehouse

Level = Literal["ok", "warn", "fail"]

GUARD_NAMES = (
    "packages_vanished",
    "source_vanished",
    "count_mismatch",
    "reject_share",
    "field_vanished",
    "invalid_page",
    "unknown_fields",
)

PACKAGES = "djangopackages/packages"
LISTS = ("packages", "categories", "grids")
CATALOGUE_SOURCES = tuple(f"djangopackages/{name}" for name in LISTS)
RECORD_SOURCES = (*CATALOGUE_SOURCES, "github/repository", "pypi/project")
PAGES_SOURCE = "djangopackages/pages"

# A grid's "packages" is read by grid_memberships, not by a Field.
KNOWN_KEYS = {
    "djangopackages/packages": frozenset(f.key for f in PACKAGE_FIELDS),
    "djangopackages/categories": frozenset(f.key for f in CATEGORY_FIELDS),
    "djangopackages/grids": frozenset(f.key for f in GRID_FIELDS) | {"packages"},
}

MIN_RECORDS_TO_REFUSE = 20
_SHOWN_NAMES = 5
_SHOWN_CHARS = 80


@dataclass(frozen=True)
class Thresholds:
    """Shares (0 to 1); a measured share strictly over ``*_warn`` warns, strictly over ``*_fail`` fails."""

    vanish_warn: float = 0.10  # listed packages fall versus the previous stored day
    vanish_fail: float = 0.30
    count_warn: float = 0.0  # records fetched differ from the API's own count
    count_fail: float = 0.02
    reject_warn: float = 0.05  # rejected / fetched, per source
    reject_fail: float = 0.20

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"guard threshold {f.name} must be a share from 0 to 1, got {value}")
        for kind in ("vanish", "count", "reject"):
            warn, fail = getattr(self, f"{kind}_warn"), getattr(self, f"{kind}_fail")
            if warn > fail:
                raise ValueError(f"guard threshold {kind}_warn ({warn}) is over {kind}_fail ({fail})")


@dataclass(frozen=True)
class GuardResult:
    name: str  # one of GUARD_NAMES
    level: Level
    value: float | None  # what was measured (a share or a count); None when nothing could be
    message: str  # one line naming the source, list, field or URL path, with the numbers


@dataclass(frozen=True)
class RawFacts:
    """What the guards know of a date from its raw alone, and which raw that was: ``fingerprint`` (see
    ``fingerprint``). A date's raw never changes once captured, so these are stored when the date is
    published (``raw_facts``) and read back by later runs, instead of every document of the date again."""

    fingerprint: str
    fetched: Mapping[str, int]  # record source -> raw records
    usable: Mapping[str, int]  # record source -> raw records the source answered (status other than failed)
    reported: Mapping[str, int]  # list -> the count its pages reported (absent: no page said)
    invalid_pages: Mapping[str, str]  # request path -> why it was not a JSON list page
    keys: Mapping[str, frozenset[str]]  # catalogue source -> top-level keys of its records
    filled: Mapping[str, frozenset[str]]  # catalogue source -> keys non-null in at least one record
    # Services the capture deliberately did not ask (a "<service>/skipped" raw row, e.g. no GitHub token).
    skipped: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DayFacts:
    """What the guards need to know about one date. Keys starting with "_" are provenance, never API
    fields, so ``keys`` and ``filled`` leave them out."""

    day: date
    fetched: Mapping[str, int]  # record source -> raw records
    usable: Mapping[str, int]  # record source -> raw records the source answered (status other than failed)
    rejected: Mapping[str, int]  # record source -> rejected records
    top_reasons: Mapping[str, str]  # record source -> its most common rejection reason
    reported: Mapping[str, int]  # list -> the count its pages reported (absent: no page said)
    invalid_pages: Mapping[str, str]  # request path -> why it was not a JSON list page
    keys: Mapping[str, frozenset[str]]  # catalogue source -> top-level keys of its records
    filled: Mapping[str, frozenset[str]]  # catalogue source -> keys non-null in at least one record
    # Services the capture deliberately did not ask (a "<service>/skipped" raw row, e.g. no GitHub token).
    skipped: frozenset[str] = frozenset()


def day_facts(wh: Warehouse, day: date, raw: RawFacts | None = None) -> DayFacts:
    """The guards' facts about ``day`` as stored in ``wh``: those of its raw (``raw``, read by
    ``raw_facts`` when not given) and of its rejects, which a recompute may change."""
    raw = raw or raw_facts(wh, day)
    d = {"d": day}
    rejected = dict(
        wh.query(
            "SELECT source, count(*) FROM rejected_records WHERE snapshot_date = $d GROUP BY source", d
        ).iter_rows()
    )
    # A record's reasons are joined with "; " and each ends with an excerpt of the value in parentheses;
    # without the excerpt, records that failed the same way share one reason.
    top_reasons = dict(
        wh.query(
            r"""
            WITH reasons AS (
                SELECT source, regexp_replace(unnest(string_split(reasons, '; ')), ' \(.*$', '') AS reason
                FROM rejected_records WHERE snapshot_date = $d
            )
            SELECT source, reason FROM reasons WHERE reason <> ''
            GROUP BY source, reason
            QUALIFY row_number() OVER (PARTITION BY source ORDER BY count(*) DESC, reason) = 1
            """,
            d,
        ).iter_rows()
    )
    return DayFacts(
        day=day,
        fetched=raw.fetched,
        usable=raw.usable,
        rejected=rejected,
        top_reasons=top_reasons,
        reported=raw.reported,
        invalid_pages=raw.invalid_pages,
        keys=raw.keys,
        filled=raw.filled,
        skipped=raw.skipped,
    )


def fingerprint(conn: duckdb.DuckDBPyConnection, day: date) -> str:
    """Which raw ``day`` holds in ``conn``'s ``raw_records``: its rows' count and the sum of their hashes.
    Milliseconds where reading the raw takes a second: no document is read, a record's document is named by
    its ``document_id`` (a new text gets a new one), not its digest, whose join costs a scan of every
    document. Every replacement of a date's raw in dpw rewrites its facts anyway (``warehouse.staging``);
    this catches a file changed by other means."""
    count, total = conn.execute(
        "SELECT count(*), coalesce(sum(hash(source, record_key, status, document_id)), 0) FROM raw_records "
        "WHERE snapshot_date = ?",
        [day],
    ).fetchall()[0]
    return f"{count}:{total}"


def raw_facts(wh: Warehouse, day: date) -> RawFacts:
    """The guards' facts of ``day``'s raw as stored in ``wh``, read from every record. JSON is read in SQL so
    that 50,000 records never pass through Python; a payload that is not a JSON object is skipped, never
    an error."""
    d = {"d": day}
    counts = wh.query(
        "SELECT source, count(*), count(*) FILTER (status <> 'failed') FROM raw_records "
        "WHERE snapshot_date = $d AND source IN (SELECT unnest($s)) GROUP BY source",
        {**d, "s": list(RECORD_SOURCES)},
    )
    fetched = {source: n for source, n, _ in counts.iter_rows()}
    usable = {source: n for source, _, n in counts.iter_rows()}
    # The capture writes these rows itself; still, a payload that is not JSON must not stop the guards.
    pages = wh.query(
        f"""
        WITH pages AS (
            SELECT record_key AS path, status, CASE WHEN json_valid(payload) THEN payload END AS doc
            FROM {RAW_TEXT} r WHERE snapshot_date = $d AND source = $p
        )
        SELECT path, status,
               json_extract_string(doc, '$.list') AS list,
               TRY_CAST(json_extract_string(doc, '$.count') AS BIGINT) AS count,
               coalesce(json_extract_string(doc, '$.error'), 'status ' || status) AS error
        FROM pages
        """,
        {**d, "p": PAGES_SOURCE},
    )
    reported: dict[str, int] = {}
    invalid: dict[str, str] = {}
    for path, status, name, count, error in pages.iter_rows():
        if status != "ok":
            invalid[path] = error
        elif count is not None:
            # Every page repeats its list's count, which can grow mid-crawl: the largest is the one to reach.
            reported[name] = max(count, reported.get(name, count))
    # Every member of every object, a key given twice included (json_keys and '$.*' list them all, in the
    # same order): what json_each gives, without the columns it builds for each member. A member is filled
    # unless its JSON type is null; its value is never written out.
    keys = wh.query(
        f"""
        WITH texts AS MATERIALIZED (  -- read once: each use would rebuild every text
            SELECT source, payload FROM {RAW_TEXT} r WHERE snapshot_date = $d AND source IN (SELECT unnest($s))
        ), records AS (  -- JSON objects: try() is null where the text is no JSON, in one reading of it
            SELECT source, payload FROM texts WHERE try(json_type(payload)) = 'OBJECT'
        ), members AS (
            SELECT source, unnest(json_keys(payload)) AS key, unnest(json_type(payload, '$.*')) AS type
            FROM records
        )
        SELECT source, key, bool_or(type <> 'NULL') AS filled
        FROM members
        WHERE NOT starts_with(key, '_')
        GROUP BY source, key
        """,
        {**d, "s": list(CATALOGUE_SOURCES)},
    )
    seen: dict[str, set[str]] = {s: set() for s in CATALOGUE_SOURCES}
    filled: dict[str, set[str]] = {s: set() for s in CATALOGUE_SOURCES}
    for source, key, has_value in keys.iter_rows():
        seen[source].add(key)
        if has_value:
            filled[source].add(key)
    skipped = wh.query(
        "SELECT DISTINCT source FROM raw_records WHERE snapshot_date = $d AND source LIKE '%/skipped'", d
    )
    return RawFacts(
        fingerprint=fingerprint(wh.conn, day),
        fetched=fetched,
        usable=usable,
        reported=reported,
        invalid_pages=dict(sorted(invalid.items())),
        keys={s: frozenset(k) for s, k in seen.items()},
        filled={s: frozenset(k) for s, k in filled.items()},
        skipped=frozenset(s.removesuffix("/skipped") for s in skipped.get_column("source")),
    )


# Each published date's RawFacts (migration 012). The version names what the facts hold and how they are read
# from the raw: stored facts of another version are read again, so changing either means raising it.
FACTS_TABLE = "raw_facts"
RAW_FACTS_VERSION = 1


def stored_raw_facts(wh: Warehouse, day: date) -> RawFacts | None:
    """``day``'s RawFacts as ``wh`` stores them, if they are of this version and of the raw it holds now."""
    rows = wh.conn.execute(
        f"SELECT version, fingerprint, facts FROM {FACTS_TABLE} WHERE snapshot_date = ?", [day]
    ).fetchall()
    if not rows or rows[0][0] != RAW_FACTS_VERSION or rows[0][1] != fingerprint(wh.conn, day):
        return None
    facts = json.loads(rows[0][2])
    return RawFacts(
        fingerprint=rows[0][1],
        fetched=facts["fetched"],
        usable=facts["usable"],
        reported=facts["reported"],
        invalid_pages=facts["invalid_pages"],
        keys={s: frozenset(k) for s, k in facts["keys"].items()},
        filled={s: frozenset(k) for s, k in facts["filled"].items()},
        skipped=frozenset(facts["skipped"]),
    )


def keep_raw_facts(wh: Warehouse, day: date, facts: RawFacts) -> bool:
    """Store ``facts`` as ``day``'s in ``wh`` (in the caller's transaction, if any), provided they were read
    from the raw it holds for that date now: another run may have replaced it since. Whether they were."""
    if fingerprint(wh.conn, day) != facts.fingerprint:
        return False
    text = json.dumps(
        {
            "fetched": facts.fetched,
            "usable": facts.usable,
            "reported": facts.reported,
            "invalid_pages": facts.invalid_pages,
            "keys": {s: sorted(k) for s, k in facts.keys.items()},
            "filled": {s: sorted(k) for s, k in facts.filled.items()},
            "skipped": sorted(facts.skipped),
        },
        sort_keys=True,
    )
    row = pl.DataFrame(
        {
            "snapshot_date": [day],
            "version": [RAW_FACTS_VERSION],
            "fingerprint": [facts.fingerprint],
            "facts": [text],
            "computed_at": [datetime.now(UTC)],
        },
        schema={
            "snapshot_date": pl.Date,
            "version": pl.Int32,
            "fingerprint": pl.String,
            "facts": pl.String,
            "computed_at": pl.Datetime("us", "UTC"),
        },
    )
    contracts.RawFactsRow.validate(row)
    wh.replace_partitions(day, {FACTS_TABLE: row})
    return True


def evaluate(today: DayFacts, previous: DayFacts | None, thresholds: Thresholds) -> list[GuardResult]:
    """One result per guard, in the order of GUARD_NAMES; ``previous`` is the latest stored date before
    ``today`` (None on the first day)."""
    return [
        _packages_vanished(today, previous, thresholds),
        _source_vanished(today, previous),
        _count_mismatch(today, thresholds),
        _reject_share(today, thresholds),
        _field_vanished(today, previous),
        _invalid_page(today),
        _unknown_fields(today),
    ]


def _level(value: float, warn: float, fail: float) -> Level:
    return "fail" if value > fail else "warn" if value > warn else "ok"


def _quote(text: str) -> str:
    """A name from the data, safe on one line: escaped (no control bytes, ASCII) and cut short."""
    cut = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."
    return json.dumps(cut)


def _listed(items: list[str]) -> str:
    # A day can lose every field or page at once; the message stays one readable line.
    more = len(items) - _SHOWN_NAMES
    return ", ".join(items[:_SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")


def _names(names: Iterable[str]) -> str:
    return _listed([_quote(n) for n in sorted(names)])


def _packages_vanished(today: DayFacts, previous: DayFacts | None, t: Thresholds) -> GuardResult:
    name = "packages_vanished"
    if today.fetched.get(PACKAGES, 0) == 0:
        # Nothing to compare is no excuse: a day without a single package is never a whole one.
        return GuardResult(name, "fail", 1.0, f"{PACKAGES}: no record on {today.day}")
    if previous is None:
        return GuardResult(name, "ok", None, "first stored day: nothing to compare packages with")
    before, now = previous.fetched.get(PACKAGES, 0), today.fetched.get(PACKAGES, 0)
    if before == 0:
        return GuardResult(
            name, "ok", None, f"{PACKAGES}: none stored on {previous.day}, nothing to compare with"
        )
    fall = max(0.0, (before - now) / before)
    return GuardResult(
        name,
        _level(fall, t.vanish_warn, t.vanish_fail),
        fall,
        f"{PACKAGES}: {now:,} records on {today.day}, {before:,} on {previous.day} ({fall:.1%} fewer; "
        f"warn over {t.vanish_warn:.0%}, fail over {t.vanish_fail:.0%})",
    )


def _source_vanished(today: DayFacts, previous: DayFacts | None) -> GuardResult:
    """GitHub or PyPI gave answers on the previous day and none today (a capture cut short, a token that
    stopped working): a day scored from djangopackages alone must not pass for a whole one. A source the
    capture skipped on purpose (no GitHub token) did not vanish: the skip is recorded with its reason."""
    name = "source_vanished"
    if previous is None:
        return GuardResult(name, "ok", None, "first stored day: no earlier sources to compare with")
    silent = [
        s
        for s in ("github/repository", "pypi/project")
        if previous.usable.get(s, 0) > 0 and today.usable.get(s, 0) == 0
    ]
    skipped = [s for s in silent if s.partition("/")[0] in today.skipped]
    gone = [s for s in silent if s not in skipped]
    if not gone:
        also = f"; skipped on purpose on {today.day}: {', '.join(skipped)}" if skipped else ""
        return GuardResult(
            name, "ok", 0.0, f"every source that answered on {previous.day} answered again{also}"
        )
    described = "; ".join(
        f"{s}: no usable answer on {today.day} ({today.fetched.get(s, 0):,} asked, all failed or none asked), "
        f"{previous.usable[s]:,} on {previous.day}"
        for s in gone
    )
    return GuardResult(name, "fail", float(len(gone)), described)


def _count_mismatch(today: DayFacts, t: Thresholds) -> GuardResult:
    name = "count_mismatch"
    checked = []  # (level, share off, list, fetched, reported)
    for lst in LISTS:
        if lst in today.reported:
            fetched, reported = today.fetched.get(f"djangopackages/{lst}", 0), today.reported[lst]
            off = abs(fetched - reported) / max(reported, 1)
            checked.append((_level(off, t.count_warn, t.count_fail), off, lst, fetched, reported))
    unreported = [lst for lst in LISTS if lst not in today.reported]
    silent = f"; no page of {', '.join(unreported)} reported a count" if unreported else ""
    if not checked:
        return GuardResult(name, "ok", None, f"no list page reported a count{silent}")
    bad = sorted((c for c in checked if c[0] != "ok"), key=lambda c: -c[1])
    if not bad:
        matched = ", ".join(f"{lst} {fetched:,}" for _, _, lst, fetched, _ in checked)
        return GuardResult(name, "ok", 0.0, f"records fetched match the API's count: {matched}{silent}")
    described = "; ".join(
        f"{lst} list: {fetched:,} records fetched, the API reported {reported:,}, {off:.1%} off"
        for _, off, lst, fetched, reported in bad
    )
    return GuardResult(
        name,
        bad[0][0],
        bad[0][1],
        f"{described} (warn over {t.count_warn:.0%}, fail over {t.count_fail:.0%}){silent}",
    )


def _reject_share(today: DayFacts, t: Thresholds) -> GuardResult:
    name = "reject_share"
    shares = sorted(
        ((today.rejected.get(s, 0) / today.fetched[s], s) for s in RECORD_SOURCES if today.fetched.get(s)),
        reverse=True,
    )
    if not shares:
        return GuardResult(name, "ok", None, "no records fetched")

    def described(share: float, source: str) -> str:
        reason = today.top_reasons.get(source)
        most = f", most often {_quote(reason)}" if reason else ""
        return f"{source}: {today.rejected.get(source, 0):,} of {today.fetched[source]:,} rejected ({share:.1%}){most}"

    def level(share: float, source: str) -> Level:
        judged = _level(share, t.reject_warn, t.reject_fail)
        # Among a handful of records (djangopackages has four categories) one bad record is a share
        # over any threshold; it is quarantined either way, so it warns rather than refuses the day.
        few = today.fetched[source] < MIN_RECORDS_TO_REFUSE
        return "warn" if judged == "fail" and few else judged

    bad = [(share, s) for share, s in shares if level(share, s) != "ok"]
    top = shares[0][0]
    if not bad:
        worst = f"; highest {described(*shares[0])}" if top else ""
        return GuardResult(name, "ok", top, f"no source over {t.reject_warn:.0%} rejected{worst}")
    worst_level: Level = "fail" if any(level(*b) == "fail" for b in bad) else "warn"
    return GuardResult(
        name,
        worst_level,
        top,
        "; ".join(described(*b) for b in bad)
        + f" (warn over {t.reject_warn:.0%}, fail over {t.reject_fail:.0%} of at least "
        + f"{MIN_RECORDS_TO_REFUSE} records)",
    )


def _field_vanished(today: DayFacts, previous: DayFacts | None) -> GuardResult:
    name = "field_vanished"
    if previous is None:
        return GuardResult(name, "ok", None, "first stored day: nothing to compare fields with")
    gone = {
        s: previous.filled.get(s, frozenset()) - today.filled.get(s, frozenset()) for s in CATALOGUE_SOURCES
    }
    gone = {s: keys for s, keys in gone.items() if keys}
    if not gone:
        return GuardResult(name, "ok", 0.0, f"every field with a value on {previous.day} still has one")
    described = "; ".join(
        f"{s}: {_names(keys)} had a value on {previous.day}, in no record on {today.day}"
        for s, keys in gone.items()
    )
    return GuardResult(name, "fail", float(sum(len(k) for k in gone.values())), described)


def _invalid_page(today: DayFacts) -> GuardResult:
    name = "invalid_page"
    if not today.invalid_pages:
        return GuardResult(name, "ok", 0.0, "every list page read was a JSON list page")
    pages = _listed([f"{_quote(path)} ({_quote(why)})" for path, why in today.invalid_pages.items()])
    n = len(today.invalid_pages)
    return GuardResult(
        name, "fail", float(n), f"{n} list page(s) not a usable JSON list page after their retries: {pages}"
    )


def _unknown_fields(today: DayFacts) -> GuardResult:
    name = "unknown_fields"
    unknown = {s: today.keys.get(s, frozenset()) - KNOWN_KEYS[s] for s in CATALOGUE_SOURCES}
    unknown = {s: keys for s, keys in unknown.items() if keys}
    if not unknown:
        return GuardResult(name, "ok", 0.0, "every field is one the parser reads")
    described = "; ".join(f"{s}: {_names(keys)}" for s, keys in unknown.items())
    return GuardResult(
        name,
        "warn",
        float(sum(len(k) for k in unknown.values())),
        f"fields the parser does not read (kept in raw): {described}",
    )
