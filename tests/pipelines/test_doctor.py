"""`dpw doctor` against a healthy replay server, a dead URL and a missing token."""

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from replay.server import ReplayServer
from tests.conftest import SAMPLE_BUNDLE
from tests.pipelines.conftest import closed_url, point_sources


@pytest.fixture(scope="module")
def replay():
    with ReplayServer(SAMPLE_BUNDLE, port=0) as server:
        yield server


@pytest.fixture
def env(replay, tmp_path, monkeypatch):
    point_sources(monkeypatch, replay.base_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_doctor_secret")
    monkeypatch.setenv("DPW_WAREHOUSE", str(tmp_path / "w.duckdb"))
    return monkeypatch


def doctor():
    return CliRunner().invoke(app, ["doctor"])


def test_a_healthy_setup_passes_with_the_quota_and_no_token_shown(env, replay):
    result = doctor()
    assert result.exit_code == 0, result.output
    assert "GITHUB_TOKEN = set (redacted)" in result.output and "ghp_doctor_secret" not in result.output
    for source in ("djangopackages", "github", "pypi", "gitlab", "bitbucket"):
        assert f"{source}: {replay.base_url} answers" in result.output
    assert "BITBUCKET_TOKEN = (not set: 60 requests an hour)" in result.output
    assert "github: 5000 of 5000 requests left this hour" in result.output
    assert "warehouse: none yet at" in result.output and "problem:" not in result.output


@pytest.mark.parametrize(
    ("variable", "source"),
    [("DPW_PYPI_URL", "pypi"), ("DPW_GITLAB_URL", "gitlab"), ("DPW_BITBUCKET_URL", "bitbucket")],
)
def test_a_dead_url_is_one_problem_line(env, variable, source):
    dead = closed_url()
    env.setenv(variable, dead)
    result = doctor()
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and problems[0].startswith(f"problem: {source}: {dead} does not answer")


def test_a_missing_token_is_a_problem_and_the_anonymous_quota_shows(env):
    env.delenv("GITHUB_TOKEN")
    result = doctor()
    assert result.exit_code == 1
    assert "GITHUB_TOKEN = (not set)" in result.output
    assert "github: 60 of 60 requests left this hour" in result.output
    problems = [line for line in result.output.splitlines() if line.startswith("problem:")]
    assert problems == [
        "problem: GITHUB_TOKEN is not set: the GitHub phase is skipped (GitHub's GraphQL API answers no one "
        "without a token), so scores rest on djangopackages' own fields"
    ]
