"""Fixtures: real sidecar processes on loopback, stopped at the end of each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import Server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `mandate-rules serve` (same arguments as `Server`); every one is stopped after."""
    servers: list[Server] = []

    def start(**kwargs: Any) -> Server:
        workdir = kwargs.pop("workdir", tmp_path / f"server-{len(servers)}")
        workdir.mkdir(parents=True, exist_ok=True)
        server = Server(workdir, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    try:
        for server in servers:
            server.assert_engine_alive()
    finally:
        for server in servers:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait(30)
