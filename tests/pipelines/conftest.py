import socket
from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import URL_VARIABLES, Settings
from replay.server import ReplayServer
from tests.conftest import SAMPLE_BUNDLE


@pytest.fixture(scope="module")
def replay():
    with ReplayServer(SAMPLE_BUNDLE, port=0) as server:
        yield server


@pytest.fixture
def settings(replay, tmp_path: Path) -> Settings:
    replay.set_date(replay_start(replay))
    return Settings().with_replay(replay.base_url).with_warehouse(tmp_path / "warehouse.duckdb")


def replay_start(server) -> date:
    return server.bundle.as_of


def closed_url() -> str:
    """A loopback address nothing listens on: a request to it fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def point_sources(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Every source's base URL setting at ``url``, as a user's environment would set them."""
    for variable in URL_VARIABLES.values():
        monkeypatch.setenv(variable, url)
