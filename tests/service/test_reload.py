"""Rule reload without downtime: invalid packs leave the running version in place; valid ones
are swapped in atomically, with state rebuilt from the event log; SIGHUP does the same."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .packs import BROKEN, FLIGHTS, armed, at, escort, flight, rule_ids, v1_rules, write_rules
from .server import Client, Server

pytestmark = pytest.mark.both_backends


def version(client: Client) -> str:
    return str(client.get("/readyz").json()["rules_version"]["version"])


def wait_for_version(client: Client, expected: str, server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if version(client) == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"still on {version(client)}:\n{server.log_text()}")


def test_reload_validates_first_then_swaps_with_state_rebuilt(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    rules = v1_rules(tmp_path / "rules")
    server = start_server(rules=rules)
    client = server.client()
    first = client.events(escort(time=at(0))).json()["advisories"][0]
    assert (first["severity"], first["rules_version"]["version"]) == ("warning", "1.0.0")
    for day in (1, 2):
        assert rule_ids(client.events(flight(org="org-r", time=at(day))).json()) == []

    write_rules(rules, armed("critical"), BROKEN, FLIGHTS, version="1.1.0")
    refused = client.post("/v1/admin/reload")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "rule-pack-invalid"
    typo_line = (rules / "pack.yaml").read_text().splitlines().index("    when: [armedd is true]")
    assert [(p["line"], p["code"]) for p in error["problems"]] == [(typo_line + 1,
                                                                    "unknown-field")]
    assert error["problems"][0]["file"].endswith("pack.yaml")
    assert version(client) == "1.0.0"
    still = client.events(escort(time=at(3))).json()["advisories"][0]
    assert still["rules_version"]["version"] == "1.0.0"

    write_rules(rules, armed("critical"), FLIGHTS, version="1.1.0")
    reloaded = client.post("/v1/admin/reload")
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["changed"] is True
    assert reloaded.json()["rules_version"]["version"] == "1.1.0"
    assert version(client) == "1.1.0"
    third = client.events(flight(org="org-r", time=at(4))).json()
    assert rule_ids(third) == ["CNT-001"]  # the two flights before the swap still count
    assert third["advisories"][0]["rules_version"]["version"] == "1.1.0"
    assert len(third["advisories"][0]["evidence"]) == 3
    now = client.events(escort(time=at(5))).json()["advisories"][0]
    assert (now["severity"], now["rules_version"]["version"]) == ("critical", "1.1.0")
    kept = client.get(f"/v1/advisories/{first['id']}").json()
    assert kept["rules_version"]["version"] == "1.0.0"  # the past is not re-judged

    again = client.post("/v1/admin/reload")
    assert again.json()["changed"] is False


def test_sighup_reloads_and_refuses_invalid_packs(start_server: Callable[..., Server],
                                                  tmp_path: Path) -> None:
    rules = v1_rules(tmp_path / "rules")
    server = start_server(rules=rules)
    client = server.client()
    write_rules(rules, armed("warning"), BROKEN, version="1.1.0")
    server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while "SIGHUP reload refused" not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "unknown-field" in server.log_text()
    assert version(client) == "1.0.0"
    write_rules(rules, armed("critical"), version="1.2.0")
    server.signal(signal.SIGHUP)
    wait_for_version(client, "1.2.0", server)
    assert client.events(escort()).json()["advisories"][0]["severity"] == "critical"
    assert server.proc is not None
    assert server.proc.poll() is None
