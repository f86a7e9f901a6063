"""Throughput on loopback, for the figures in docs/sidecar.md (a soak run, not a gate):

    .venv/bin/pytest -m soak tests/service/test_throughput.py -s

It asserts only that nothing was lost; the numbers are printed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .packs import at, completed_movement, escort, flight, v1_rules
from .server import Server

CLIENTS = 8
SINGLES = 250  # per client
BATCHES, BATCH = 20, 100


def events(prefix: str, count: int) -> list[dict[str, Any]]:
    """Escorts, flights and movements of 50 organisations, two hours apart, so windows and
    deadlines hold what a busy operation would."""
    out = []
    for i in range(count):
        common = {"id": f"{prefix}-{i}", "org": f"org-{prefix}-{i % 50}", "time": at(hours=2 * i)}
        if i % 3 == 0:
            out.append(escort(**common))
        elif i % 3 == 1:
            out.append(flight(**common))
        else:
            out.append(completed_movement(f"mov-{prefix}-{i}", **common))
    return out


@pytest.mark.soak
def test_throughput(start_server: Callable[..., Server], tmp_path: Path,
                    request: pytest.FixtureRequest) -> None:
    if "soak" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a soak run: pytest -m soak tests/service/test_throughput.py -s")
    server = start_server(rules=v1_rules(tmp_path / "rules"))

    def run(post: Callable[[int], None]) -> float:
        threads = [threading.Thread(target=post, args=(n,)) for n in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def singles(number: int) -> None:
        client = server.client()
        for body in events(f"s{number}", SINGLES):
            assert client.events(body).status_code == 200

    def batches(number: int) -> None:
        client = server.client()
        mine = events(f"b{number}", BATCHES * BATCH // CLIENTS)
        for i in range(0, len(mine), BATCH):
            assert client.events(mine[i:i + BATCH]).status_code == 200

    single_seconds = run(singles)
    batch_seconds = run(batches)
    total = CLIENTS * SINGLES + BATCHES * BATCH
    assert server.rows("SELECT COUNT(*) FROM events") == [(total,)]
    server.stop()
    started = time.perf_counter()
    server.start()
    restart_seconds = time.perf_counter() - started
    replay = re.findall(r"engines ready: .*'seconds': ([0-9.]+)", server.log_text())[-1]
    print(f"\n{CLIENTS} clients, single events: {CLIENTS * SINGLES / single_seconds:.0f} events/s"
          f"\n{CLIENTS} clients, batches of {BATCH}: {BATCHES * BATCH / batch_seconds:.0f} "
          f"events/s\nrestart with {total} stored events: replay {replay} s, process start to "
          f"ready {restart_seconds:.1f} s")
