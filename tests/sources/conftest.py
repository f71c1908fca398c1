"""Fixtures: fake source servers on loopback and HttpClients on them that record their waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.sources.fake_http import FakeServer, Harness


@pytest.fixture
def make_server() -> Iterator[Callable[[], FakeServer]]:
    servers: list[FakeServer] = []

    def make() -> FakeServer:
        servers.append(FakeServer())
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def server(make_server: Callable[[], FakeServer]) -> FakeServer:
    return make_server()


@pytest.fixture
def harness(server: FakeServer) -> Iterator[Harness]:
    harness = Harness(server.base_url)
    yield harness
    harness.close()
