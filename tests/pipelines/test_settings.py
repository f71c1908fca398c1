"""Settings are checked when made: a bad value stops a run at its start, in one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.sources.http import DEFAULT_MAX_BODY_BYTES
from pipelines.settings import DEFAULT_DJANGOPACKAGES_URL, DEFAULT_GITHUB_URL, Settings, SettingsError

PASSWORD = "hunter2-Sekrit"


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert settings.djangopackages_url == DEFAULT_DJANGOPACKAGES_URL
    assert settings.github_url == DEFAULT_GITHUB_URL
    assert settings.pypi_url is None and settings.github_token is None
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 20 * 1024 * 1024
    assert settings.warehouse == Path("data") / "warehouse.duckdb"


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DPW_DJANGOPACKAGES_URL": "http://127.0.0.1:8000",
            "DPW_GITHUB_URL": "http://127.0.0.1:8000/github/",
            "DPW_PYPI_URL": "https://mirror.example/pypi",
            "GITHUB_TOKEN": "ghp_x",
            "DPW_GITLAB_URL": "http://127.0.0.1:8000/gitlab",
            "DPW_BITBUCKET_URL": "http://127.0.0.1:8000/bitbucket",
            "GITLAB_TOKEN": "glpat_x",
            "BITBUCKET_TOKEN": "bb_x",
            "DPW_WAREHOUSE": "/tmp/w.duckdb",
            "DPW_MAX_BODY_BYTES": "1048576",
        }
    )
    assert settings.github_url == "http://127.0.0.1:8000/github/"
    assert settings.pypi_url == "https://mirror.example/pypi"
    assert settings.max_body_bytes == 1048576
    assert (settings.gitlab_url, settings.bitbucket_url) == (
        "http://127.0.0.1:8000/gitlab",
        "http://127.0.0.1:8000/bitbucket",
    )
    assert (settings.gitlab_token, settings.bitbucket_token) == ("glpat_x", "bb_x")
    assert not {"ghp_x", "glpat_x", "bb_x"} & set(repr(settings).replace("'", " ").split())


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{PASSWORD}@mirror.example",
        f"http://{PASSWORD}@127.0.0.1:8000/",
        f"user:{PASSWORD}@mirror.example",
        "https://@mirror.example",
    ],
)
@pytest.mark.parametrize(
    "variable",
    ["DPW_DJANGOPACKAGES_URL", "DPW_GITHUB_URL", "DPW_PYPI_URL", "DPW_GITLAB_URL", "DPW_BITBUCKET_URL"],
)
def test_a_base_url_with_credentials_is_refused_without_echoing_them(variable: str, url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: url})
    message = str(caught.value)
    assert message.startswith(f"{variable}: the URL carries credentials")
    assert PASSWORD not in message and "user" not in message.replace("user:password", "")
    assert "\n" not in message and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mirror.example", "is not a base URL with a scheme and a host"),
        ("/pypi", "is not a base URL with a scheme and a host"),
        ("http://", "is not a base URL with a scheme and a host"),
        ("htp:/x", "is not a base URL with a scheme and a host"),
        ("ftp://mirror.example", "is not an http(s) URL"),
        ("file:///etc/passwd", "is not a base URL with a scheme and a host"),
        ("http://:8000", "has no host"),
        ("http://mirror.example:port", "has an unusable port"),
        ("http://[::1", "is not a URL"),
        ("http://h\x1b[2J", "is not a URL"),
    ],
)
def test_a_malformed_base_url_names_the_variable_and_the_value(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DPW_PYPI_URL": url})
    assert str(caught.value).startswith(f"DPW_PYPI_URL: {url!r} {problem}")
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_a_malformed_url_with_an_at_sign_is_not_quoted() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DPW_PYPI_URL": f"http://[::1/{PASSWORD}@x"})
    assert str(caught.value).startswith("DPW_PYPI_URL: the value is not a URL")
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DPW_GUARD_VANISH_FAIL": "2"}, "DPW_GUARD_VANISH_FAIL must be a share from 0 to 1, got 2.0"),
        (
            {"DPW_GUARD_REJECT_WARN": "0.5"},
            "DPW_GUARD_REJECT_WARN (0.5) is over DPW_GUARD_REJECT_FAIL (0.2)",
        ),
        ({"DPW_GUARD_COUNT_FAIL": "x"}, "DPW_GUARD_COUNT_FAIL must be a share from 0 to 1, e.g. 0.3"),
    ],
)
def test_a_bad_guard_threshold_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_a_good_url_passes_in_every_form_the_project_uses() -> None:
    for url in (
        "http://127.0.0.1:8000",
        "https://mirror.example/pypi/",
        "http://[::1]:8000/",
        "https://h/p@x",
    ):
        assert Settings.from_env({"DPW_PYPI_URL": url}).pypi_url == url


def test_settings_made_in_code_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="^DPW_GITHUB_URL: the URL carries credentials"):
        Settings(github_url=f"https://x:{PASSWORD}@h")
    with pytest.raises(SettingsError, match="^DPW_DJANGOPACKAGES_URL"):
        Settings().with_replay("127.0.0.1:8000")
    assert Settings().with_replay("http://127.0.0.1:8000").pypi_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("value", ["20MB", "1.5", "0", "-1", "lots"])
def test_a_body_cap_that_is_not_a_positive_byte_count_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="^DPW_MAX_BODY_BYTES must be a whole number of bytes"):
        Settings.from_env({"DPW_MAX_BODY_BYTES": value})
