"""Fixtures: real sidecar processes on loopback, stopped at the end of each test.

A module marked ``pytestmark = pytest.mark.both_backends`` runs each of its tests twice:
on a SQLite file, then on a fresh PostgreSQL database per server (the store's contract is
the same on both; tests/pg.py says when PostgreSQL tests skip or fail).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .. import pg
from .server import Server


@pytest.fixture
def start_server(tmp_path: Path, backend: str,
                 request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """Start `mandate-rules serve` (same arguments as `Server`); every one is stopped after."""
    servers: list[Server] = []
    databases = contextlib.ExitStack()

    def start(**kwargs: Any) -> Server:
        workdir = kwargs.pop("workdir", tmp_path / f"server-{len(servers)}")
        workdir.mkdir(parents=True, exist_ok=True)
        if backend == "postgresql" and kwargs.get("db") is None:
            server_url = request.getfixturevalue("pg_server")
            kwargs["db"] = databases.enter_context(pg.fresh_database(server_url))
        server = Server(workdir, **kwargs)
        servers.append(server)
        return server.start()

    with databases:
        yield from _stopping(start, servers)


def _stopping(start: Callable[..., Server],
              servers: list[Server]) -> Iterator[Callable[..., Server]]:
    yield start
    try:
        for server in servers:
            server.assert_engine_alive()
    finally:
        for server in servers:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait(30)
