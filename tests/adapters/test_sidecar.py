"""Push receivers and the write-back outbox in the sidecar, end to end: a real sidecar
(uvicorn on 127.0.0.1), real pushes over a socket, and loopback fakes of the sources."""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import requests
import uvicorn

from mandate_rules import Advisory
from mandate_rules._adapters.tables import open_db
from mandate_rules._database import Target, parse_target
from mandate_rules._service import ServiceConfig, create_app
from mandate_rules._service._config import TokenSpec, token_digest
from mandate_rules._service._errors import CODES
from mandate_rules._service._receivers import ADAPTERS_ENV
from mandate_rules.adapters import advisory_marker
from mandate_rules.adapters.testing import (
    COMMCARE_DOMAIN,
    DERIVED,
    KOBO_ASSET,
    FakeCommCare,
    FakeKobo,
    FakePrimero,
    Reply,
    commcare_case,
    fixture_bytes,
    kobo_submission,
    primero_case,
    primero_webhook,
)

from .conftest import ENV, commcare_settings, kobo_settings, primero_settings

SECRET = ENV["PUSH_SECRET"]
# A proxy's error pages, as nginx sends them.
GATEWAY_502 = Reply(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                    {"Content-Type": "text/html"})
GATEWAY_504 = Reply(504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>",
                    {"Content-Type": "text/html"})
KOBO_HEADERS = {"Content-Type": "application/json",
                "User-Agent": "KoboToolbox external service #hXyZ123",
                "Authorization": "Basic " + base64.b64encode(f"kobo:{SECRET}".encode()).decode()}


class Sidecar:
    def __init__(self, db: Path | Target, tokens: tuple[TokenSpec, ...] = (),
                 queue_limit: int = 10_000) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.target = db if isinstance(db, Target) else Target(path=db)
        app = create_app(ServiceConfig(db=self.target, tick_interval=0, tokens=tokens,
                                       queue_limit=queue_limit))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.db = self.target.path or Path("(PostgreSQL)")
        self.session = requests.Session()
        self.session.trust_env = False
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> Sidecar:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.session.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("the sidecar did not become ready")

    def push(self, connection: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        return self.session.post(f"{self.base}/v1/adapters/{connection}/push", data=body,
                                 headers=headers, timeout=30)

    def outbox(self) -> list[dict[str, Any]]:
        conn = open_db(self.target)  # the sidecar's database, SQLite or PostgreSQL
        try:
            names = ("advisory_id", "status", "attempts", "last_error")
            return [dict(zip(names, r, strict=True)) for r in conn.execute(
                f"SELECT {', '.join(names)} FROM adapter_outbox")]
        finally:
            conn.close()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def _connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
                 primero: FakePrimero, commcare: FakeCommCare, **sections: Any) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    connections = {
        "kobo": {"adapter": "kobotoolbox", **kobo_settings(kobo)},
        "primero": {"adapter": "primero", **primero_settings(primero)},
        "commcare": {"adapter": "commcare", **commcare_settings(commcare)},
    }
    path = tmp_path / "adapters.yaml"
    path.write_text(json.dumps({"outbox": {"first_retry_seconds": 0.3, "poll_seconds": 0.1},
                                "connections": connections, **sections}))
    monkeypatch.setenv(ADAPTERS_ENV, str(path))


@pytest.fixture
def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
            primero: FakePrimero, commcare: FakeCommCare) -> Iterator[Sidecar]:
    _connections(tmp_path, monkeypatch, kobo, primero, commcare)
    server = Sidecar(tmp_path / "sidecar.db").start()
    yield server
    server.stop()


# Made-up bearer tokens of the sidecar's callers: the connections feed tenant "default".
TOKENS = {"reader": ("default", "read"), "admin": ("default", "admin"),
          "metrics": ("default", "metrics"), "other-reader": ("other", "read"),
          "other-admin": ("other", "admin")}


def _bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer test-token-{name}-0123456789"}


@pytest.fixture
def secured_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
                    primero: FakePrimero, commcare: FakeCommCare) -> Iterator[Sidecar]:
    _connections(tmp_path, monkeypatch, kobo, primero, commcare)
    tokens = tuple(TokenSpec(tenant, frozenset({role}),
                             token_digest(_bearer(name)["Authorization"][7:]))
                   for name, (tenant, role) in TOKENS.items())
    server = Sidecar(tmp_path / "sidecar.db", tokens).start()
    yield server
    server.stop()


def _wait(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def any_sidecar(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
                primero: FakePrimero, commcare: FakeCommCare) -> Iterator[Sidecar]:
    """The sidecar on its SQLite file, then on a PostgreSQL database: the adapters' tables
    beside its event log on either."""
    _connections(tmp_path, monkeypatch, kobo, primero, commcare)
    server = Sidecar(parse_target(db_url)).start()
    yield server
    server.stop()


def test_kobo_escort_push_raises_esc001_written_back_once_despite_a_failure(
        any_sidecar: Sidecar, kobo: FakeKobo) -> None:
    sidecar = any_sidecar
    # Every write-back fails until we let it through (one failed attempt per advisory).
    kobo.fail(Reply.json(500, {"detail": "server error"}), when=lambda s: s.method == "PATCH",
              times=1000)
    body = (DERIVED / "kobotoolbox_escort_submission.json").read_bytes()
    kobo.submissions.append(json.loads(body))  # what Kobo pushes, it holds
    answer = sidecar.push("kobo", body, KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["new"] == ["3001@uuid:6a1f0c2e-8d3b-4e55-9b1a-2f7c4d9e0a31"]
    stored = sidecar.session.get(sidecar.base + "/v1/advisories", timeout=10).json()["items"]
    esc001 = [a for a in stored if a["rule_id"] == "ESC-001"]
    assert len(esc001) == 1
    assert esc001[0]["subject"] == "3001"
    assert esc001[0]["id"] in result["advisories"]
    count = len(result["advisories"])
    _wait(lambda: len(sidecar.outbox()) == count
          and all(r["attempts"] >= 1 for r in sidecar.outbox()), "the first attempts")
    assert kobo.statuses == {}
    assert all("500" in (r["last_error"] or "") for r in sidecar.outbox())
    kobo.failures.clear()  # Kobo is back
    _wait(lambda: all(r["status"] == "done" for r in sidecar.outbox()), "the retries")
    rows = {r["advisory_id"]: r for r in sidecar.outbox()}
    assert rows[esc001[0]["id"]]["attempts"] == 2
    assert kobo.statuses == {"3001": "validation_status_on_hold"}
    # The status was set once: the other advisories on 3001 found it set and sent nothing.
    assert [(r.method, r.path) for r in kobo.applied()] == [
        ("PATCH", f"/api/v2/assets/{KOBO_ASSET}/data/3001/validation_status/")]
    # Kobo retries the same POST (it did not see our answer): acknowledged, nothing new.
    again = sidecar.push("kobo", body, KOBO_HEADERS)
    assert again.status_code == 200
    assert again.json()["new"] == []
    assert again.json()["unchanged"] == 1
    time.sleep(0.8)  # longer than the retry delay: nothing more may be written
    assert len(kobo.applied()) == 1
    assert len(sidecar.outbox()) == count


def test_push_authentication_and_bad_payloads(sidecar: Sidecar) -> None:
    body = json.dumps(kobo_submission(3005)).encode()
    wrong = dict(KOBO_HEADERS, Authorization="Basic " + base64.b64encode(b"kobo:nope").decode())
    assert sidecar.push("kobo", body, wrong).status_code == 401
    no_auth = {"Content-Type": "application/json"}
    assert sidecar.push("kobo", body, no_auth).status_code == 401
    assert sidecar.push("nowhere", body, KOBO_HEADERS).status_code == 404
    bad = sidecar.push("kobo", b"<xml/>", KOBO_HEADERS)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "not-a-record"
    odd = sidecar.push("kobo", json.dumps(kobo_submission(3006, escort__armed="maybe")).encode(),
                       KOBO_HEADERS)
    assert odd.status_code == 200  # acknowledged (a retry would not help) and kept
    assert "not in the value map" in odd.json()["rejected"][0]["reason"]
    with sqlite3.connect(sidecar.db) as conn:
        kept = conn.execute("SELECT record_id FROM adapter_rejected").fetchall()
    assert kept == [("3006",)]


def test_a_pushed_record_holding_a_lone_surrogate_is_kept_as_rejected_not_503(
        sidecar: Sidecar) -> None:
    # Real form data can carry a lone UTF-16 surrogate (JSON "\\ud800"); SQLite cannot store
    # one, so keeping the rejected record used to fail and the push got 503 push-failed, which
    # Kobo retries until it gives up: a record that can never succeed must be answered 200.
    record = kobo_submission(3007, escort__provider_name="Sector \ud800 unit")
    answer = sidecar.push("kobo", json.dumps(record).encode(), KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    assert "surrogate" in answer.json()["rejected"][0]["reason"]
    with sqlite3.connect(sidecar.db) as conn:
        kept = conn.execute("SELECT record_id, record FROM adapter_rejected").fetchall()
    assert [record_id for record_id, _ in kept] == ["3007"]
    assert json.loads(kept[0][1])["escort/provider_name"] == "Sector \ud800 unit"
    odd_id = dict(kobo_submission(3008), _id="x\ud800")
    answer = sidecar.push("kobo", json.dumps(odd_id).encode(), KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"][0]["record_id"] == "x\\ud800"


def test_a_pushed_record_holding_a_nul_is_kept_as_rejected_on_either_backend(
        any_sidecar: Sidecar) -> None:
    # PostgreSQL's text cannot hold U+0000 at all (SQLite can): an id or a value with one used
    # to fail the insert of the rejected record there, and the push with it. The record is kept,
    # its id written with the NUL escaped, and the next record goes through as usual.
    odd = dict(kobo_submission(3010, escort__provider_name="Sector\x00unit"), _id="x\x00y")
    answer = any_sidecar.push("kobo", json.dumps(odd).encode(), KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    [rejected] = answer.json()["rejected"]
    assert rejected["record_id"] == "x\\x00y", rejected
    assert answer.json()["new"] == []
    conn = open_db(any_sidecar.target)
    try:
        kept = conn.execute("SELECT record_id, record FROM adapter_rejected").fetchall()
    finally:
        conn.close()
    assert [row[0] for row in kept] == ["x\\x00y"]
    assert json.loads(kept[0][1])["escort/provider_name"] == "Sector\x00unit"
    # A NUL in a value alone: the event the record maps to is refused, naming the field.
    in_value = kobo_submission(3013, escort__provider_name="Sector\x00unit")
    answer = any_sidecar.push("kobo", json.dumps(in_value).encode(), KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    [rejected] = answer.json()["rejected"]
    assert rejected["record_id"] == "3013", rejected
    assert "U+0000" in rejected["reason"], rejected
    answer = any_sidecar.push("kobo", json.dumps(kobo_submission(3011)).encode(), KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    assert [event_id.split("@")[0] for event_id in answer.json()["new"]] == ["3011"], answer.text


def test_a_connection_at_a_new_address_takes_its_state_along_before_the_first_push(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
        moved_kobo: FakeKobo, primero: FakePrimero, commcare: FakeCommCare,
        caplog: pytest.LogCaptureFixture) -> None:
    # The Kobo server moved: the connection's base_url changes, and with it the source its
    # events carry. A record pushed again from there is the same record, not a new event to
    # judge a second time, and the write-back waiting for the old address goes to the new.
    kobo.submissions.append(kobo_submission(3012))  # both addresses serve the same list
    record = json.dumps(kobo_submission(3012)).encode()
    kobo.fail(Reply.json(503, {"detail": "down"}), when=lambda s: s.method == "PATCH",
              times=1000)
    _connections(tmp_path, monkeypatch, kobo, primero, commcare)
    before = Sidecar(parse_target(db_url)).start()
    try:
        first = before.push("kobo", record, KOBO_HEADERS)
        assert first.status_code == 200, first.text
        assert first.json()["advisories"], first.text
        _wait(lambda: any(r["attempts"] > 0 for r in before.outbox()), "a failed write-back")
    finally:
        before.stop()
    _connections(tmp_path, monkeypatch, moved_kobo, primero, commcare)
    with caplog.at_level("WARNING", logger="mandate_rules.service"):
        after = Sidecar(parse_target(db_url)).start()
    try:
        again = after.push("kobo", record, KOBO_HEADERS)
        assert again.status_code == 200, again.text
        assert (again.json()["new"], again.json()["unchanged"], again.json()["advisories"]) \
            == ([], 1, []), again.text
        _wait(lambda: {r["status"] for r in after.outbox()} == {"done"},
              "every write-back done at the new address")
        assert len(after.outbox()) == len(first.json()["advisories"])
        assert "3012" in moved_kobo.statuses
    finally:
        after.stop()
    assert any("state moved from" in r.getMessage() for r in caplog.records), caplog.text


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
def test_a_pushed_record_whose_id_is_beyond_a_double_is_rejected_naming_it(
        sidecar: Sidecar, number: str) -> None:
    # Python reads JSON's 1e400 as inf; the record used to become the event "inf@uuid:…",
    # whose advisories could then never be written back. Issue 10, point 2, for the receivers.
    text = json.dumps(dict(kobo_submission(3009), _id=0)).replace('"_id": 0', f'"_id": {number}')
    answer = sidecar.push("kobo", text.encode(), KOBO_HEADERS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["new"] == []
    assert answer.json()["advisories"] == []
    [rejected] = answer.json()["rejected"]
    assert "_id" in rejected["reason"], rejected
    assert "(found inf)" in rejected["reason"] or "(found -inf)" in rejected["reason"], rejected


def test_a_refused_push_has_the_sidecars_error_shape_and_codes(sidecar: Sidecar) -> None:
    """The receivers are the sidecar's: its codes (`unauthorized`, `payload-too-large`, not
    the receivers' own `unauthenticated`, `body-too-large`), each with the part at fault."""
    body = json.dumps(kobo_submission(3007)).encode()
    wrong = dict(KOBO_HEADERS, Authorization="Basic " + base64.b64encode(b"kobo:nope").decode())
    cases = [(sidecar.push("kobo", body, wrong), 401, "unauthorized", "header.authorization"),
             (sidecar.push("kobo", b"{" + b" " * (1 << 20) + b"}", KOBO_HEADERS), 413,
              "payload-too-large", "body"),
             (sidecar.push("nowhere", body, KOBO_HEADERS), 404, "unknown-connection",
              "path.connection"),
             (sidecar.push("kobo", b"<xml/>", KOBO_HEADERS), 400, "not-a-record", "body")]
    for answer, status, code, path in cases:
        assert answer.status_code == status
        error = answer.json()["error"]
        assert (error["code"], error["path"]) == (code, path)
        assert error["message"]
        assert code in CODES


def test_primero_webhook_flag_and_its_echo(sidecar: Sidecar, primero: FakePrimero) -> None:
    case = primero_case(9, "2026-11-20T09:00:00.000Z")
    headers = {"Content-Type": "application/json", "x-api-key": SECRET}
    answer = sidecar.push("primero", primero_webhook(case), headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["advisories"]
    _wait(lambda: sidecar.outbox() and all(r["status"] == "done" for r in sidecar.outbox()),
          "the flags")
    flags = primero.flags[case["id"]]
    assert len(flags) == len(answer.json()["advisories"])
    # add_flag! saved the case, so Primero fires case.update: not evaluated again.
    echo = dict(case, flag_count=len(flags), last_updated_at="2026-11-20T09:00:03.000Z")
    second = sidecar.push("primero", primero_webhook(echo), headers)
    assert second.json()["new"] == []
    assert second.json()["advisories"] == []
    time.sleep(0.5)
    assert len(primero.flags[case["id"]]) == len(flags)


def test_commcare_case_forwarding_and_advisory_case_echo(sidecar: Sidecar,
                                                         commcare: FakeCommCare) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}",
               "Server-Modified-On": "2026-11-20T09:00:00Z"}
    answer = sidecar.push("commcare", json.dumps(commcare_case(
        7, "2026-11-20T09:00:00.000000Z")).encode(), headers)
    assert answer.status_code == 200, answer.text
    count = len(answer.json()["advisories"])
    assert count >= 1
    _wait(lambda: len(commcare.by_external) == count, "the advisory cases")
    echo = next(iter(commcare.by_external.values()))
    back = sidecar.push("commcare", json.dumps({**echo, "domain": "field-ops"}).encode(),
                        headers)
    assert back.json()["new"] == []
    assert "advisory case" in back.json()["ignored"][0]["reason"]


def test_a_refused_write_back_is_dead_visible_and_retried_by_hand(
        secured_sidecar: Sidecar, primero: FakePrimero) -> None:
    sidecar = secured_sidecar
    # Primero refuses the flag with its validation error (case_patch_422_response.json);
    # nothing about this request will change by sending it again.
    refusal = json.loads(fixture_bytes("primero", "case_patch_422_response.json"))
    primero.fail(Reply.json(422, refusal), when=lambda s: s.method == "POST", times=1000)
    case = primero_case(11, "2026-11-21T09:00:00.000Z")
    answer = sidecar.push("primero", primero_webhook(case),
                          {"Content-Type": "application/json", "x-api-key": SECRET})
    assert answer.status_code == 200, answer.text
    raised = sorted(answer.json()["advisories"])
    assert raised

    def outbox(token: str, query: str = "") -> requests.Response:
        return sidecar.session.get(f"{sidecar.base}/v1/outbox{query}", headers=_bearer(token),
                                   timeout=10)

    _wait(lambda: len(outbox("reader", "?status=dead").json()["items"]) == len(raised),
          "the refusals")
    time.sleep(0.8)  # longer than the retry delay: a dead row is not tried again
    posts = [r for r in primero.requests if r.method == "POST"]
    assert len(posts) == len(raised)
    dead = outbox("reader", "?status=dead").json()["items"]
    assert sorted(r["advisory_id"] for r in dead) == raised
    assert all(r["status"] == "dead" and r["attempts"] == 1 and r["subject"] == case["id"]
               and "422" in r["last_error"]
               and "Please enter the date in a valid format (dd-mmm-yyyy) (registration_date)"
               in r["last_error"] for r in dead)
    assert outbox("reader", "?status=pending").json()["items"] == []
    # Tenant-scoped and role-checked like the rest of the API.
    assert outbox("other-reader").json() == {"items": [], "next_cursor": None}
    assert outbox("metrics").status_code == 403
    assert sidecar.session.get(f"{sidecar.base}/v1/outbox", timeout=10).status_code == 401
    bad = outbox("reader", "?status=lost")
    assert bad.status_code == 400
    assert bad.json()["error"]["path"] == "query.status"
    page = outbox("reader", "?limit=1").json()
    if len(raised) > 1:
        assert outbox("reader", f"?limit=1&cursor={page['next_cursor']}").json()[
            "items"][0]["advisory_id"] != page["items"][0]["advisory_id"]
    metrics = sidecar.session.get(f"{sidecar.base}/metrics", headers=_bearer("metrics"),
                                  timeout=10).text
    source = dead[0]["source"]
    assert (f'mandate_rules_adapter_outbox_rows{{source="{source}",status="dead"}} '
            f"{len(raised)}") in metrics
    assert f'mandate_rules_adapter_outbox_rows{{source="{source}",status="done"}} 0' in metrics

    def retry(token: str, query: str = "") -> requests.Response:
        return sidecar.session.post(f"{sidecar.base}/v1/admin/outbox/retry{query}",
                                    headers=_bearer(token), timeout=10)

    assert retry("reader").status_code == 403
    assert retry("other-admin").json() == {"retried": []}  # not that tenant's rows
    missing = retry("admin", "?advisory_id=nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "outbox-row-not-found"
    primero.failures.clear()  # the form was fixed
    assert retry("admin", f"?advisory_id={raised[0]}").json() == {"retried": [raised[0]]}
    assert retry("admin").json() == {"retried": raised[1:]}
    _wait(lambda: all(r["status"] == "done" for r in outbox("reader").json()["items"]),
          "the retried write-backs")
    assert len(primero.flags[case["id"]]) == len(raised)
    assert all(r["attempts"] == 2 for r in outbox("reader").json()["items"])


def _send_like_kobo(sidecar: Sidecar, body: bytes, attempts: int = 50) -> requests.Response:
    """A REST Service delivery: tried again only after 502, 503 or 504 (kpi
    ``kobo/apps/hook/``), here sooner than Kobo's countdown so the test stays short."""
    for _ in range(attempts):
        answer = sidecar.push("kobo", body, KOBO_HEADERS)
        if answer.status_code not in (502, 503, 504):
            return answer
        assert "Retry-After" in answer.headers
        time.sleep(0.1)
    raise AssertionError(f"still {answer.status_code} after {attempts} attempts")


@pytest.fixture
def impatient_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
                      primero: FakePrimero, commcare: FakeCommCare) -> Iterator[Sidecar]:
    """Answers a push within 1 s, and queues at most one job for the engine."""
    _connections(tmp_path, monkeypatch, kobo, primero, commcare,
                 push={"answer_within_seconds": 1})
    server = Sidecar(tmp_path / "sidecar.db", queue_limit=1).start()
    yield server
    server.stop()


def test_transient_push_failures_are_503_with_retry_after_and_nothing_is_lost(
        impatient_sidecar: Sidecar, kobo: FakeKobo) -> None:
    """KoboToolbox retries a REST Service call only on 502/503/504: a busy store, a backlog
    and a full queue must answer 503 (never 4xx/500), and the retry must raise and write
    each advisory once."""
    sidecar = impatient_sidecar
    kobo.submissions.extend(kobo_submission(n) for n in (3101, 3102, 3103))
    bodies = [json.dumps(kobo_submission(n)).encode() for n in (3101, 3102, 3103)]
    # Another process holds the store's write lock (a backup, a sync on the same file).
    lock = sqlite3.connect(sidecar.db, isolation_level=None, timeout=0)
    lock.execute("BEGIN IMMEDIATE")
    try:
        busy = sidecar.push("kobo", bodies[0], KOBO_HEADERS)  # the engine waits for the lock
        backlog = sidecar.push("kobo", bodies[1], KOBO_HEADERS)  # waits in the queue
        full = sidecar.push("kobo", bodies[2], KOBO_HEADERS)  # the queue is full
    finally:
        lock.rollback()
        lock.close()
    for answer, code in ((busy, "busy"), (backlog, "busy"), (full, "overloaded")):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == code
        assert int(answer.headers["Retry-After"]) >= 1
    assert sidecar.outbox() == []
    # Kobo sends each again: every record is evaluated (once) and its advisories queued.
    raised: list[str] = []
    for body in bodies:
        again = _send_like_kobo(sidecar, body)
        assert again.status_code == 200, again.text
        assert len(again.json()["new"]) == 1
        raised += again.json()["advisories"]
    assert raised
    stored = sidecar.session.get(sidecar.base + "/v1/advisories?limit=1000",
                                 timeout=10).json()["items"]
    assert sorted(a["id"] for a in stored) == sorted(raised)
    _wait(lambda: len(sidecar.outbox()) == len(raised)
          and all(r["status"] == "done" for r in sidecar.outbox()), "the write-backs")
    assert kobo.statuses == {str(n): "validation_status_on_hold" for n in (3101, 3102, 3103)}
    # Each submission's status set once, by the first of its advisories.
    assert sorted(r.path for r in kobo.applied()) == [
        f"/api/v2/assets/{KOBO_ASSET}/data/{n}/validation_status/" for n in (3101, 3102, 3103)]
    for body in bodies:  # and a late retry of the same submissions changes nothing
        assert sidecar.push("kobo", body, KOBO_HEADERS).json()["unchanged"] == 1


# ------------------------------------------------------------------------ end to end


@attrs.frozen
class _Source:
    """One source in the end-to-end run: its connection, three records as it pushes them,
    and how to recognise the write-back of one record and count the copies of an advisory."""

    connection: str
    bodies: tuple[bytes, ...]
    headers: dict[str, str]
    writes_to: Callable[[Any, str], bool]  # (request, record id) -> a write for that record
    records: tuple[str, ...]


def _e2e_source(name: str, kobo: FakeKobo, primero: FakePrimero,
                commcare: FakeCommCare) -> _Source:
    if name == "kobo":
        submissions = [kobo_submission(n) for n in (3201, 3202, 3203)]
        kobo.submissions.extend(submissions)
        return _Source("kobo", tuple(json.dumps(s).encode() for s in submissions),
                       KOBO_HEADERS,
                       lambda s, r: s.method == "PATCH" and f"/data/{r}/" in s.path,
                       ("3201", "3202", "3203"))
    if name == "primero":
        cases = [primero_case(n, f"2026-11-22T09:00:0{n - 20}.000Z") for n in (21, 22, 23)]
        return _Source("primero", tuple(primero_webhook(c) for c in cases),
                       {"Content-Type": "application/json", "x-api-key": SECRET},
                       lambda s, r: s.method == "POST" and s.path == f"/api/v2/cases/{r}/flags",
                       tuple(c["id"] for c in cases))
    cases = [commcare_case(n, f"2026-11-22T09:00:{n}.000000Z") for n in (31, 32, 33)]
    commcare.cases.extend(cases)
    return _Source("commcare", tuple(json.dumps(c).encode() for c in cases),
                   {"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}",
                    "Server-Modified-On": "2026-11-22T09:00:00Z"},
                   lambda s, r: s.method == "PUT"
                   and ((s.json or {}).get("indices") or {}).get("host", {}).get("case_id") == r,
                   tuple(c["case_id"] for c in cases))


def _send(sidecar: Sidecar, connection: str, body: bytes, headers: dict[str, str],
          attempts: int = 50) -> requests.Response:
    """A sender that tries again after 502, 503 or 504, as KoboToolbox and CommCare do."""
    for _ in range(attempts):
        answer = sidecar.push(connection, body, headers)
        if answer.status_code not in (502, 503, 504):
            return answer
        assert "Retry-After" in answer.headers
        time.sleep(0.1)
    raise AssertionError(f"still {answer.status_code} after {attempts} attempts")


@pytest.mark.parametrize("name", ["kobo", "primero", "commcare"])
def test_push_to_write_back_end_to_end_writes_each_advisory_once_whatever_fails(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kobo: FakeKobo,
        primero: FakePrimero, commcare: FakeCommCare) -> None:
    """A push that first meets a busy store (503), write-backs refused until the sidecar is
    restarted, then each record's write saved by the source but answered 502, 504 or not in
    time: every advisory ends up written exactly once in the source."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    quick = {"timeout": {"connect": 2, "read": 0.5}}
    path = tmp_path / "adapters.yaml"
    path.write_text(json.dumps({
        "outbox": {"first_retry_seconds": 0.3, "max_retry_seconds": 1, "poll_seconds": 0.1},
        "push": {"answer_within_seconds": 1},
        "connections": {
            "kobo": {"adapter": "kobotoolbox", **kobo_settings(kobo, **quick)},
            "primero": {"adapter": "primero", **primero_settings(primero, **quick)},
            "commcare": {"adapter": "commcare", **commcare_settings(commcare, **quick)}}}))
    monkeypatch.setenv(ADAPTERS_ENV, str(path))
    fake = {"kobo": kobo, "primero": primero, "commcare": commcare}[name]
    source = _e2e_source(name, kobo, primero, commcare)
    db = tmp_path / "sidecar.db"

    def writes(record: str | None = None) -> list[Any]:
        return [r for r in fake.applied()
                if record is None or source.writes_to(r, record)]

    # 1. The source is down for writes until further notice.
    fake.fail(Reply.json(503, {"detail": "Service Unavailable"}),
              when=lambda s: s.method in ("POST", "PUT", "PATCH"), times=10_000)
    first = Sidecar(db).start()
    try:
        # 2. The first push meets a busy store: 503 with Retry-After, and the sender retries.
        lock = sqlite3.connect(db, isolation_level=None, timeout=0)
        lock.execute("BEGIN IMMEDIATE")
        try:
            busy = first.push(source.connection, source.bodies[0], source.headers)
        finally:
            lock.rollback()
            lock.close()
        assert busy.status_code == 503, busy.text
        assert int(busy.headers["Retry-After"]) >= 1
        raised: dict[str, list[str]] = {}
        for record, body in zip(source.records, source.bodies, strict=True):
            answer = _send(first, source.connection, body, source.headers)
            assert answer.status_code == 200, answer.text
            raised[record] = answer.json()["advisories"]
            assert raised[record], f"record {record} should raise advisories"
        every = sorted(a for ids in raised.values() for a in ids)
        _wait(lambda: len(first.outbox()) == len(every)
              and all(r["attempts"] >= 1 for r in first.outbox()), "the refused write-backs")
        assert writes() == []
    finally:
        first.stop()  # 3. the process stops with every write-back pending

    # 4. The source is back, but each record's first write is saved and its answer lost.
    fake.failures.clear()
    lost: list[Reply | float] = [GATEWAY_502, GATEWAY_504, 1.5]  # 1.5 s: past the read timeout
    for record, instead in zip(source.records, lost, strict=True):
        fake.lose_answer(instead, when=lambda s, r=record: source.writes_to(s, r))
    second = Sidecar(db).start()
    try:
        _wait(lambda: all(r["status"] == "done" for r in second.outbox()), "the write-backs")
        assert sorted(r["advisory_id"] for r in second.outbox()) == every
        assert fake.lost_answers == []  # every kind of lost answer was met
        stored = {a["id"]: Advisory.from_json(a) for a in second.session.get(
            second.base + "/v1/advisories?limit=1000", timeout=10).json()["items"]}
        assert sorted(stored) == every
        if name == "kobo":  # one status per submission: its other advisories found it set
            for record in source.records:
                assert len(writes(record)) == 1
                assert kobo.statuses[record] == "validation_status_on_hold"
        elif name == "primero":
            for record, ids in raised.items():
                assert len(writes(record)) == len(ids)
                for advisory_id in ids:
                    mark = advisory_marker(stored[advisory_id])
                    assert sum(mark in f["message"] for f in primero.flags[record]) == 1
        else:
            for record, ids in raised.items():
                assert len(writes(record)) == len(ids)
                for advisory_id in ids:
                    assert [p.path for p in writes(record)].count(
                        f"/a/{COMMCARE_DOMAIN}/api/case/v2/ext/{advisory_id}/") == 1
            assert sorted(commcare.by_external) == every
        # 5. A late retry of every push changes nothing.
        applied = len(writes())
        for body in source.bodies:
            again = _send(second, source.connection, body, source.headers)
            assert again.json()["new"] == []
        time.sleep(0.8)  # longer than the retry delay
        assert len(writes()) == applied
    finally:
        second.stop()
