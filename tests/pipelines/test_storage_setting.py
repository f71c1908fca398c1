"""DPW_STORAGE_VERSION: read from the environment, checked when read, and the format this process writes."""

from __future__ import annotations

import pytest

from pipelines.settings import Settings, SettingsError
from warehouse import fileformat


@pytest.fixture(autouse=True)
def _restore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileformat, "_configured", fileformat.DEFAULT_STORAGE_VERSION)


def test_the_default_is_the_newest_format_duckdb_1_4_reads() -> None:
    assert Settings.from_env({}).storage_version == "v1.4.0" == Settings().storage_version
    assert fileformat.configured() == "v1.4.0"


def test_the_variable_sets_the_format_this_process_creates_files_in() -> None:
    assert Settings.from_env({"DPW_STORAGE_VERSION": "v1.5.0"}).storage_version == "v1.5.0"
    assert fileformat.configured() == "v1.5.0"
    Settings.from_env({})
    assert fileformat.configured() == "v1.4.0"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1.4.0", "is not a DuckDB version like v1.4.0"),
        ("v1.3.2", "is older than v1.4.0"),
        ("v7.0.0", "is not a DuckDB release"),
    ],
)
def test_an_unusable_version_is_refused_in_one_line_naming_the_variable(value: str, why: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DPW_STORAGE_VERSION": value})
    message = str(caught.value)
    assert message.startswith("DPW_STORAGE_VERSION: ") and why in message and "\n" not in message
    assert fileformat.configured() == "v1.4.0"  # a refused setting changes nothing
