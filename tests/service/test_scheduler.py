"""The clock: with no other traffic, the scheduler's ticks let deadlines expire, and the
advisories they raise are stored, logged and replayed like any other."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .packs import at, completed_movement, rule_ids, v1_rules
from .server import Client, Server

pytestmark = pytest.mark.both_backends

CLOCK = "mandate-rules://sidecar/clock"


def wait_for_advisory(client: Client, rule: str, server: Server) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = client.all_advisories(rule=rule)
        if found:
            (advisory,) = found
            return advisory
        time.sleep(0.2)
    raise AssertionError(f"no {rule} advisory:\n{server.log_text()}")


def test_ticks_expire_deadlines_without_other_traffic(start_server: Callable[..., Server],
                                                      tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "rules"), args=["--tick-interval", "0.2"])
    client = server.client()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=73)
    movement = completed_movement("mov-clock", id="mov-clock", time=at(base=started))
    assert rule_ids(client.events(movement).json()) == []

    advisory = wait_for_advisory(client, "ABS-001", server)
    assert advisory["raised_at"] == at(hours=72, base=started)
    ticks = [d for d in client.get("/v1/decisions").json()["items"]
             if d["event"]["source"] == CLOCK and d["advisory_ids"]]
    assert [d["advisory_ids"] for d in ticks] == [[advisory["id"]]]
    assert ticks[0]["event"]["type"] == "clock.tick"

    server.restart()  # the applied ticks are in the log: replay raises nothing new
    assert "0 divergent, 0 failed" in server.log_text().rsplit("--- start", 1)[1]
    assert client.all_advisories(rule="ABS-001") == [advisory]
    assert server.rows("SELECT COUNT(*) FROM events WHERE source = ?", CLOCK)[0][0] >= 1
