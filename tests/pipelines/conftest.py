from datetime import date
from pathlib import Path

import pytest

from pipelines.settings import Settings
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
