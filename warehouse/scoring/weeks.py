"""Sanitizing `commits_over_52`: the raw text of a weekly commit array into weeks a score can count."""

from __future__ import annotations

import polars as pl

from warehouse.scoring.constants import DPAS1, ScoreConstants

# A float holds every integer up to 2**53 exactly; a larger "count" is not a faithful count of anything.
_MAX_WEEK_VALUE = float(2**53)
# The same bound for a count read as an integer: compared as a float, 2**53 + 1 would pass it.
_MAX_WEEK_COUNT = pl.lit(2**53, pl.Int64)

SANITIZED_WEEKS_DTYPE = pl.Struct(
    {
        "weeks": pl.List(pl.Int64),
        "raw_len": pl.UInt32,
        "n_invalid": pl.UInt32,
        "was_string": pl.Boolean,
        "repaired": pl.Boolean,
    }
)


def sanitize_weeks(raw: pl.Expr, constants: ScoreConstants = DPAS1) -> pl.Expr:
    """Parse the raw text of `commits_over_52` into a right-aligned weekly array and repair flags.

    `raw` is a String expression holding a JSON array (`[0, 3, ...]`, possibly with floats, negatives, nulls,
    NaN or Infinity), the legacy comma string (`0,3,1`, bare or as a JSON string), or null, "", "null", "[]".
    The result is a Struct:

    - `weeks` List(Int64): oldest first, exactly `window` entries. A short array is missing its oldest weeks
      (null); a long one keeps its newest `window`. An entry that is not a whole, finite, non-negative number
      is null. No array, or no valid entry at all, gives a null list: unknown, never zeros.
    - `raw_len` UInt32: entries as received (0 when absent). `n_invalid` UInt32: entries that became null.
    - `was_string` Boolean: the legacy comma form. `repaired` Boolean: the stored weeks are not a verbatim
      reading of a well-formed array of `window` whole numbers (legacy form, invalid entries, other length).

    Entries are split on commas rather than JSON-decoded because the sources emit NaN and Infinity, which
    JSON parsers reject; a string containing a comma inside a JSON array is therefore two invalid entries.
    Whole floats (3.0) are accepted as counts; fractions (2.5) are invalid, since no count is fractional.
    """
    # Each step names its result as a field of one struct and the next reads it back (pl.field): written
    # as nested expressions, every use of a step would repeat the whole tree below it, and the tree grows
    # to tens of thousands of nodes that polars plans (and may evaluate) once per use.
    f = pl.field
    window = constants.window
    stripped = f("stripped")
    length = stripped.str.len_chars()
    text, body = f("text"), f("body")
    absent, is_array, is_json_string = f("absent"), f("is_array"), f("is_json_string")
    # Each entry is read as a number once (the "numbers" step), then judged: inside list.eval an expression
    # used twice is evaluated twice, and reading text is most of the cost.
    number = pl.element()
    valid = number.is_finite() & (number >= 0) & (number == number.floor()) & (number <= _MAX_WEEK_VALUE)
    values, raw_len, n_invalid = f("values"), f("raw_len"), f("n_invalid")
    padding = pl.lit([None] * window, dtype=pl.List(pl.Int64))
    was_string = (~absent & (is_json_string | ~is_array)).fill_null(False)
    # The common form, a compact array of exactly `window` whole counts no larger than a float holds (as both
    # JSON readers write one), is read as integers at once. The steps below read only the other rows: they
    # read every entry as text twice, and cost five times as much.
    received, quick, plain = f("received"), f("quick"), f("plain")
    steps = [
        [
            pl.when(received.str.contains(r"^\[[0-9]+(?:,[0-9]+)*\]$"))
            .then(
                received.str.slice(1, received.str.len_bytes() - 2)
                .str.split(",")
                .cast(pl.List(pl.Int64), strict=False)
            )
            .alias("quick")
        ],
        [
            (
                (quick.list.len() == window)
                & (quick.list.drop_nulls().list.len() == window)
                & (quick.list.max() <= _MAX_WEEK_COUNT)
            )
            .fill_null(False)
            .alias("plain")
        ],
        [pl.when(~plain).then(received).str.strip_chars().alias("stripped")],
        [
            (stripped.str.starts_with('"') & stripped.str.ends_with('"') & (length >= 2)).alias(
                "is_json_string"
            )
        ],
        [
            pl.when(is_json_string)
            .then(stripped.str.slice(1, length - 2).str.strip_chars())
            .otherwise(stripped)
            .alias("text")
        ],
        [
            (text.is_null() | (text == "") | (text == "null")).alias("absent"),
            text.str.starts_with("[").alias("is_array"),
        ],
        [
            pl.when(is_array)
            .then(text.str.strip_prefix("[").str.strip_suffix("]"))
            .otherwise(text)
            .str.strip_chars()
            .alias("body")
        ],
        [
            pl.when(absent | (body == ""))
            .then(pl.lit(None, pl.List(pl.String)))
            .otherwise(body.str.split(","))
            .list.eval(pl.element().str.strip_chars().cast(pl.Float64, strict=False))
            .alias("numbers")
        ],
        [f("numbers").list.eval(pl.when(valid).then(number).cast(pl.Int64)).alias("values")],
        [
            values.list.len().fill_null(0).cast(pl.UInt32).alias("raw_len"),
            values.list.agg(pl.element().null_count()).fill_null(0).cast(pl.UInt32).alias("n_invalid"),
        ],
    ]
    general = pl.struct(
        pl.when((raw_len > 0) & (n_invalid < raw_len))
        .then(pl.concat_list(padding, values).list.tail(window))
        .alias("weeks"),
        raw_len,
        n_invalid,
        was_string.alias("was_string"),
        (was_string | (n_invalid > 0) | ((raw_len > 0) & (raw_len != window))).alias("repaired"),
    )
    counted = pl.struct(
        quick.alias("weeks"),
        pl.lit(window, pl.UInt32).alias("raw_len"),
        pl.lit(0, pl.UInt32).alias("n_invalid"),
        pl.lit(False).alias("was_string"),
        pl.lit(False).alias("repaired"),
    )
    result = pl.when(plain).then(counted).otherwise(general).alias("_result")
    staged = pl.struct(raw.alias("received"))
    for step in [*steps, [result]]:
        staged = staged.struct.with_fields(*step)
    return staged.struct.field("_result")
