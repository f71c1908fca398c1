"""Turn raw source records (JSON text as received) into typed rows, repairing what is odd but usable
and quarantining what is not.

Each field is read with a JSON path, so a value of the wrong JSON type (``"id": "abc"``,
``"repo_watchers": "many"``) arrives as text and is judged by the field's rule instead of breaking the
whole frame. A required field that cannot be read rejects the record with a reason naming the field;
an optional one becomes null and is flagged in ``repairs``. The typed rows then pass the table's pandera
model (every failure reported), whose failures are rejected as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import pandera.polars as pa
import polars as pl

from warehouse import contracts, identifiers
from warehouse.scoring import sanitize_weeks

Kind = Literal["int", "text", "bool", "timestamp", "link", "links", "strings", "weeks"]


@dataclass(frozen=True)
class Field:
    column: str
    key: str
    kind: Kind
    required: bool = False
    resource: str = ""  # for link fields: the API resource the hyperlink points to


@dataclass(frozen=True)
class Parsed:
    accepted: pl.DataFrame  # typed rows, valid for the table's model
    rejected: pl.DataFrame  # rejected_records rows
    repaired: int  # accepted rows that carry at least one repair

    @property
    def counts(self) -> dict[str, int]:
        return {
            "fetched": self.accepted.height + self.rejected.height,
            "accepted": self.accepted.height,
            "repaired": self.repaired,
            "rejected": self.rejected.height,
        }


def parse_timestamp(text: pl.Expr) -> pl.Expr:
    """ISO-8601 with an offset or ``Z`` as UTC; naive values are America/New_York local time (the API
    before djangopackages set USE_TZ on 2026-01-29)."""
    aware = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", strict=False)
    zulu = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC", strict=False)
    naive = (
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False)
        .dt.replace_time_zone("America/New_York", ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    return pl.coalesce(aware, zulu, naive)


def _integer(text: pl.Expr) -> pl.Expr:
    # JSON numbers like 12.0 are whole numbers too; "many", 1.5 and true are not.
    number = text.cast(pl.Float64, strict=False)
    whole = number.is_finite() & (number == number.floor()) & (number.abs() < 2**62)
    return pl.when(whole).then(number.cast(pl.Int64)).otherwise(None)


def _typed(field: Field, text: pl.Expr) -> pl.Expr:
    blank = text.is_null() | (text.str.strip_chars() == "")
    match field.kind:
        case "int":
            return _integer(text)
        case "text":
            return pl.when(blank).then(None).otherwise(text)
        case "bool":
            return pl.when(text == "true").then(True).when(text == "false").then(False).otherwise(None)
        case "timestamp":
            return parse_timestamp(text)
        case "link":
            return identifiers.linked_id(text, field.resource)
        case "links":
            return identifiers.linked_ids(text, field.resource)
        case "strings":
            # The API gives a JSON list; API v3 and some dumps give one comma-separated string. The list is
            # read by pattern, not decoded, so one malformed value cannot fail the whole frame.
            as_json = text.str.extract_all(r'"(?:[^"\\]|\\.)*"').list.eval(
                pl.element().str.slice(1, pl.element().str.len_chars() - 2)
            )
            legacy = text.str.split(",").list.eval(pl.element().str.strip_chars()).list.drop_nulls()
            return pl.when(blank).then(None).when(text.str.starts_with("[")).then(as_json).otherwise(legacy)
        case "weeks":
            return sanitize_weeks(text).struct.field("weeks")
    raise ValueError(f"unknown field kind {field.kind!r}")


def _unusable(field: Field, text: pl.Expr, typed: pl.Expr) -> pl.Expr:
    """Whether a value was present but could not be read as its kind."""
    present = text.is_not_null() & (text.str.strip_chars() != "")
    if field.kind == "links":
        return present & (typed.list.len() == 0) & (text != "[]")
    if field.kind == "weeks":
        return pl.lit(False)
    return present & typed.is_null()


_KIND_WORDS = {
    "int": "not an integer",
    "text": "empty",
    "bool": "not true or false",
    "timestamp": "not an ISO-8601 time",
    "link": "not a link to an API resource",
    "links": "not a list of links to API resources",
    "strings": "not a list of strings",
}


def parse_records(
    raw: pl.DataFrame,
    fields: list[Field],
    *,
    snapshot_date: date,
    source: str,
    model: type[pa.DataFrameModel],
    key: str,
    derive: tuple[pl.Expr, ...] = (),
) -> Parsed:
    """Parse ``raw`` (columns ``record_key``, ``payload``) into rows of ``model`` keyed by column ``key``.

    ``derive`` adds columns computed from the typed fields (identifiers parsed out of links).
    """
    texts = raw.select(
        "record_key",
        "payload",
        *[pl.col("payload").str.json_path_match(f"$.{f.key}").alias(f"_raw_{f.column}") for f in fields],
    )
    typed_exprs, reject_exprs, repair_exprs = [], [], []
    for f in fields:
        text, typed = pl.col(f"_raw_{f.column}"), _typed(f, pl.col(f"_raw_{f.column}"))
        typed_exprs.append(typed.alias(f.column))
        bad = _unusable(f, text, typed)
        words = _KIND_WORDS.get(f.kind, "unusable")
        if f.required:
            missing = text.is_null() | (text.str.strip_chars() == "")
            reject_exprs.append(
                pl.when(missing)
                .then(pl.lit(f"{f.key}: missing"))
                .when(bad)
                .then(pl.format(f"{f.key}: {words} ({{}})", text.str.slice(0, 80)))
            )
        elif f.kind == "weeks":
            repair_exprs.append(_weeks_repair(f, text))
        else:
            repair_exprs.append(
                pl.when(bad).then(
                    pl.format(f"{f.key}: {words} ({{}}); stored as null", text.str.slice(0, 80))
                )
            )
    frame = texts.with_columns(
        *typed_exprs,
        pl.concat_list(reject_exprs).list.drop_nulls().alias("_reasons"),
        pl.concat_list(repair_exprs).list.drop_nulls().alias("repairs")
        if repair_exprs
        else pl.lit([], pl.List(pl.String)).alias("repairs"),
        pl.lit(snapshot_date).alias("snapshot_date"),
    ).with_columns(*derive)
    # The listing is newest-first and paged, so a record can come twice; the first copy wins.
    duplicate = (
        pl.col(key).is_not_null() & pl.col(key).is_duplicated() & (pl.int_range(pl.len()).over(key) > 0)
    )
    frame = frame.with_columns(
        pl.when(duplicate)
        .then(pl.col("_reasons").list.concat(pl.lit([f"{key}: duplicate of an earlier record"])))
        .otherwise(pl.col("_reasons"))
        .alias("_reasons")
    )
    columns = list(model.to_schema().columns)
    readable = frame.filter(pl.col("_reasons").list.len() == 0)
    result = contracts.validate(model, readable.select(columns))
    failures = result.failures.group_by("row", maintain_order=True).agg(
        pl.col("field").unique(maintain_order=True).alias("fields"),
        pl.col("reason").str.join("; ").alias("reasons"),
    )
    failed_rows = readable.with_row_index("row").join(failures, on="row", how="inner")
    unreadable = frame.filter(pl.col("_reasons").list.len() > 0).with_columns(
        pl.col("_reasons").list.eval(pl.element().str.extract(r"^([^:]+):", 1)).alias("fields"),
        pl.col("_reasons").list.join("; ").alias("reasons"),
    )
    rejected = pl.concat(
        [
            part.select(
                pl.lit(snapshot_date).alias("snapshot_date"),
                pl.lit(source).alias("source"),
                pl.col("record_key"),
                pl.col("fields").cast(pl.List(pl.String)),
                pl.col("reasons"),
                pl.col("payload"),
            )
            for part in (unreadable, failed_rows)
        ]
    )
    accepted = result.valid
    repaired = (
        accepted.filter(pl.col("repairs").list.len() > 0).height if "repairs" in accepted.columns else 0
    )
    return Parsed(accepted=accepted, rejected=rejected, repaired=repaired)


def _weeks_repair(f: Field, text: pl.Expr) -> pl.Expr:
    info = sanitize_weeks(text)
    return pl.when(info.struct.field("repaired")).then(
        pl.format(
            f"{f.key}: repaired (received {{}} entries{{}}, {{}} invalid counts set to unknown)",
            info.struct.field("raw_len"),
            pl.when(info.struct.field("was_string"))
            .then(pl.lit(" as a comma-separated string"))
            .otherwise(pl.lit("")),
            info.struct.field("n_invalid"),
        )
    )


PACKAGE_FIELDS = [
    Field("package_id", "id", "int", required=True),
    Field("slug", "slug", "text", required=True),
    Field("title", "title", "text", required=True),
    Field("category_id", "category", "link", resource="categories"),
    Field("grid_ids", "grids", "links", resource="grids"),
    Field("repo_url", "repo_url", "text"),
    Field("pypi_version", "pypi_version", "text"),
    Field("documentation_url", "documentation_url", "text"),
    Field("repo_description", "repo_description", "text"),
    Field("stars", "repo_watchers", "int", required=True),
    Field("forks", "repo_forks", "int", required=True),
    Field("participants", "participants", "strings"),
    Field("commits_over_52", "commits_over_52", "weeks"),
    Field("last_updated_at", "last_updated", "timestamp"),
    Field("last_fetched_at", "last_fetched", "timestamp", required=True),
    Field("created_at", "created", "timestamp"),
    Field("modified_at", "modified", "timestamp"),
    # read only to derive identifiers below
    Field("_pypi_url", "pypi_url", "text"),
]

CATEGORY_FIELDS = [
    Field("category_id", "id", "int", required=True),
    Field("slug", "slug", "text", required=True),
    Field("title", "title", "text", required=True),
    Field("title_plural", "title_plural", "text"),
    Field("description", "description", "text"),
    Field("show_pypi", "show_pypi", "bool"),
    Field("created_at", "created", "timestamp"),
    Field("modified_at", "modified", "timestamp"),
]

GRID_FIELDS = [
    Field("grid_id", "id", "int", required=True),
    Field("slug", "slug", "text", required=True),
    Field("title", "title", "text", required=True),
    Field("description", "description", "text"),
    Field("is_locked", "is_locked", "bool"),
    Field("header", "header", "bool"),
    Field("created_at", "created", "timestamp"),
    Field("modified_at", "modified", "timestamp"),
]


def parse_packages(raw: pl.DataFrame, snapshot_date: date) -> Parsed:
    """Package snapshot rows from raw djangopackages package records."""
    return parse_records(
        raw,
        PACKAGE_FIELDS,
        snapshot_date=snapshot_date,
        source="djangopackages/packages",
        model=contracts.PackageSnapshot,
        key="package_id",
        derive=(
            identifiers.repo_host(pl.col("repo_url")).alias("repo_host"),
            identifiers.github_full_names(pl.col("repo_url")).alias("repo_full_name"),
            identifiers.pypi_names(pl.col("_pypi_url")).alias("pypi_name"),
        ),
    )


def parse_categories(raw: pl.DataFrame, snapshot_date: date) -> Parsed:
    """Category snapshot rows from raw djangopackages category records."""
    return parse_records(
        raw,
        CATEGORY_FIELDS,
        snapshot_date=snapshot_date,
        source="djangopackages/categories",
        model=contracts.CategorySnapshot,
        key="category_id",
    )


def parse_grids(raw: pl.DataFrame, snapshot_date: date) -> Parsed:
    """Grid snapshot rows from raw djangopackages grid records."""
    return parse_records(
        raw,
        GRID_FIELDS,
        snapshot_date=snapshot_date,
        source="djangopackages/grids",
        model=contracts.GridSnapshot,
        key="grid_id",
    )


def grid_memberships(packages: pl.DataFrame, raw_grids: pl.DataFrame, snapshot_date: date) -> pl.DataFrame:
    """(grid, package) pairs from both sides of the link: a package's ``grids`` and a grid's ``packages``.

    Only accepted packages appear, so every pair joins to a package row of the same date.
    """
    from_packages = packages.select(pl.col("grid_ids").alias("grid_id"), "package_id").explode("grid_id")
    from_grids = raw_grids.select(
        _integer(pl.col("payload").str.json_path_match("$.id")).alias("grid_id"),
        identifiers.linked_ids(pl.col("payload").str.json_path_match("$.packages"), "packages").alias(
            "package_id"
        ),
    ).explode("package_id")
    pairs = pl.concat([from_packages, from_grids]).drop_nulls().unique().sort("grid_id", "package_id")
    return pairs.join(packages.select("package_id"), on="package_id", how="semi").select(
        pl.lit(snapshot_date).alias("snapshot_date"), "grid_id", "package_id"
    )
