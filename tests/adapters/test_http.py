"""The HTTP layer: timeouts, retries with backoff honouring Retry-After, errors translated,
credentials never shown, and nothing leaves the machine while the loopback guard is on."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from mandate_rules._adapters import (
    LOOPBACK_ENV,
    EgressRefusedError,
    HeaderAuth,
    HttpClient,
    SourceAuthError,
    SourceRejectedError,
    SourceUnavailableError,
    is_loopback_host,
    loopback_only,
)
from mandate_rules._adapters.http import RETRY_AFTER_CAP
from mandate_rules._cli import main
from mandate_rules.adapters.testing import FakeCommCare, FakeServer, Reply, Seen, commcare_case

from .conftest import ENV, FAST_RETRY, EgressAttempt, commcare_settings

SECRET = "fake-secret-value-never-shown"


class Scripted(FakeServer):
    """Answers 200 {"ok": true}, after any failures queued with `fail`; can stall."""

    stall = 0.0

    def handle(self, seen: Seen) -> Reply:
        if seen.path == "/redirect":
            return Reply(302, b"", {"Location": "http://example.org/elsewhere"})
        if self.stall:
            time.sleep(self.stall)
        return Reply.json(200, {"ok": True, "path": seen.path})


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.stop()


def _client(server: FakeServer, **kwargs: Any) -> tuple[HttpClient, list[float]]:
    waits: list[float] = []
    options: dict[str, Any] = {"auth": HeaderAuth("Token", SECRET), "retries": 3,
                               "backoff": 0.01, "sleep": waits.append, "timeout": (1.0, 2.0)}
    options.update(kwargs)
    return HttpClient(server.base_url, **options), waits


def test_5xx_is_retried_then_succeeds(server: Scripted) -> None:
    client, waits = _client(server)
    server.fail(Reply.json(500, {"detail": "boom"}))
    server.fail(Reply.json(503, {"detail": "busy"}))
    assert client.get_json("x") == {"ok": True, "path": "/x"}
    assert len(server.requests) == 3
    assert len(waits) == 2
    assert waits[1] >= waits[0] * 0.5  # backoff grows (with jitter)


def test_retry_after_seconds_and_date_are_honoured(server: Scripted) -> None:
    client, waits = _client(server)
    server.fail(Reply.json(429, {}, **{"Retry-After": "2"}))
    server.fail(Reply.json(503, {}, **{"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}))
    with pytest.raises(SourceUnavailableError) as caught:  # 2099 is beyond max_retry_after
        client.get_json("x")
    assert waits == [pytest.approx(2, abs=0.01)]
    # Years ahead is read as the cap (a day), so no retry is scheduled in 2099.
    assert caught.value.retry_after == RETRY_AFTER_CAP


def test_decimal_retry_after_of_commcare_is_honoured(server: Scripted) -> None:
    """CommCare's API throttle answers 429 with the rate limiter's float, e.g. ``1.5``."""
    client, waits = _client(server)
    server.fail(Reply.json(429, {}, **{"Retry-After": "1.5"}))
    server.fail(Reply.json(429, {}, **{"Retry-After": " 0.25 "}))
    assert client.get_json("x") == {"ok": True, "path": "/x"}
    # The source's figure, not the client's own backoff (0.01 s, then 0.02 s at most).
    assert waits == [pytest.approx(1.5, abs=1e-9), pytest.approx(0.25, abs=1e-9)]


@pytest.mark.parametrize("value", ["-1", "1e3", "nan", "inf", "1.5.2", "1,5", "soon", ""])
def test_unreadable_retry_after_falls_back_to_backoff(server: Scripted, value: str) -> None:
    client, waits = _client(server, backoff=0.01)
    server.fail(Reply.json(503, {}, **{"Retry-After": value}))
    assert client.get_json("x") == {"ok": True, "path": "/x"}
    assert len(waits) == 1
    assert waits[0] <= 0.01


def test_huge_decimal_retry_after_is_bounded(server: Scripted) -> None:
    client, waits = _client(server)
    server.fail(Reply.json(429, {}, **{"Retry-After": "999999999999.5"}))
    with pytest.raises(SourceUnavailableError) as caught:  # beyond max_retry_after: stop now
        client.get_json("x")
    assert waits == []
    assert caught.value.retry_after == RETRY_AFTER_CAP


def test_retries_run_out(server: Scripted) -> None:
    client, waits = _client(server)
    server.fail(Reply.json(502, {"detail": "down"}), times=4)
    with pytest.raises(SourceUnavailableError, match="502") as caught:
        client.get_json("x")
    assert caught.value.status == 502
    assert len(server.requests) == 4
    assert len(waits) == 3


def test_post_is_not_resent_after_a_500(server: Scripted) -> None:
    client, _ = _client(server)
    server.fail(Reply.json(500, {"detail": "maybe written"}))
    with pytest.raises(SourceUnavailableError):
        client.request_json("POST", "flags", body={"a": 1})
    assert len(server.requests) == 1
    server.fail(Reply.json(503, {"detail": "not processed"}))
    assert client.request_json("POST", "flags", body={"a": 1}) == {"ok": True, "path": "/flags"}


@pytest.mark.parametrize(("status", "error"), [(401, SourceAuthError), (403, SourceAuthError),
                                               (404, SourceRejectedError),
                                               (422, SourceRejectedError)])
def test_client_errors_are_not_retried(server: Scripted, status: int, error: type) -> None:
    client, waits = _client(server)
    server.fail(Reply.json(status, {"errors": [{"code": status, "message": "nope",
                                                "detail": "field_x"}]}))
    with pytest.raises(error, match=r"nope \(field_x\)"):
        client.get_json("x")
    assert len(server.requests) == 1
    assert waits == []


def test_read_timeout_is_explicit_and_translated(server: Scripted) -> None:
    server.stall = 0.5
    client, _ = _client(server, timeout=(1.0, 0.1), retries=1)
    with pytest.raises(SourceUnavailableError, match="ReadTimeout"):
        client.get_json("slow")
    assert len(server.requests) == 2  # a GET is tried again once


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens here once closed
    client = HttpClient(f"http://127.0.0.1:{port}/", retries=1, backoff=0.0, sleep=lambda s: None)
    with pytest.raises(SourceUnavailableError, match="ConnectionError") as caught:
        client.get_json("x")
    assert isinstance(caught.value.__cause__, requests.ConnectionError)


def test_credentials_never_reach_logs_or_errors(server: Scripted,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = _client(server, retries=1)
    server.fail(Reply.json(503, {}), times=2)
    with pytest.raises(SourceUnavailableError) as caught:
        client.get_json("x")
    assert server.requests[0].headers["authorization"] == f"Token {SECRET}"
    shown = caplog.text + str(caught.value) + repr(client) + repr(client.session.auth)
    assert "503" in caplog.text
    assert SECRET not in shown


# ------------------------------------------------------------------------ no egress


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "example.org", "192.168.1.1", "0.0.0.0",
                                  "127.0.0.1.example.org", "", None])
def test_non_loopback_hosts(host: str | None) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize("url", ["http://10.0.0.1/api/", "https://example.org/api/",
                                 "http://[2001:db8::1]:8080/"])
def test_guard_refuses_before_any_socket(url: str, no_egress: list[Any]) -> None:
    assert loopback_only()
    client = HttpClient(url, sleep=lambda s: None)
    with pytest.raises(EgressRefusedError, match=LOOPBACK_ENV):
        client.get_json("x")
    assert no_egress == []  # refused by the guard: not even a name lookup happened


def test_guard_refuses_a_redirect_off_the_machine(server: Scripted,
                                                  no_egress: list[Any]) -> None:
    client, _ = _client(server)
    with pytest.raises(EgressRefusedError):
        client.get_json("redirect")
    assert no_egress == []


def test_guard_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOOPBACK_ENV, "0")
    assert not loopback_only()
    assert HttpClient("http://127.0.0.1:9/").guard is False
    assert HttpClient("http://127.0.0.1:9/", guard=True).guard is True


def test_socket_check_catches_what_the_guard_would_miss(monkeypatch: pytest.MonkeyPatch,
                                                        no_egress: list[Any]) -> None:
    """With the guard off, the test run's socket-level check still stops a connection."""
    monkeypatch.setenv(LOOPBACK_ENV, "0")
    client = HttpClient("http://10.0.0.1:9/", retries=0, sleep=lambda s: None,
                        timeout=(0.2, 0.2))
    with pytest.raises((EgressAttempt, SourceUnavailableError)):
        client.get_json("x")
    assert no_egress
    assert "10.0.0.1" in str(no_egress[0])
    no_egress.clear()
    with pytest.raises(EgressAttempt):
        socket.getaddrinfo("example.org", 80)
    assert no_egress == ["example.org"]
    no_egress.clear()


def test_adapters_refuse_a_non_loopback_base_url(make_adapter: Any) -> None:
    for name, settings in (
            ("kobotoolbox", {"base_url": "https://kf.example.org", "asset_uid": "a",
                             "token_env": "KOBO_TOKEN"}),
            ("primero", {"base_url": "http://10.0.0.1", "auth": {
                "type": "basic", "user_env": "PRIMERO_USER", "password_env": "PRIMERO_PASSWORD"}}),
            ("commcare", {"base_url": "https://www.example.org", "domain": "d",
                          "case_type": "c", "username": "u", "api_key_env": "COMMCARE_KEY",
                          "write_back": {"mode": "property"}})):
        adapter = make_adapter(name, {**settings, "retry": FAST_RETRY})
        with pytest.raises(EgressRefusedError):
            adapter.pull(None)


def test_server_threads_are_loopback_only(server: Scripted) -> None:
    assert server.httpd.server_address[0] == "127.0.0.1"
    assert all(t.daemon for t in threading.enumerate() if t is server.thread)


def test_commcare_rate_limit_is_waited_out(commcare: FakeCommCare,
                                          make_adapter: Callable[..., Any]) -> None:
    """CommCare's throttle sends the seconds left as a decimal: waiting that long passes,
    where the client's own backoff (0.01 s, 0.02 s, 0.04 s here) would run out first."""
    adapter = make_adapter("commcare", commcare_settings(commcare))
    commcare.throttle(0.5)
    adapter.pull(None)  # raised SourceUnavailableError when the 1.5-style header was ignored
    assert len(commcare.requests) == 2  # one 429, its Retry-After waited, then through


def test_sync_of_a_rate_limited_commcare_completes(commcare: FakeCommCare, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`mandate-rules sync commcare` exited 3 (stopped early) when the decimal Retry-After
    was ignored and the client's own backoff ran out inside CommCare's window."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    commcare.cases.append(commcare_case(7, "2026-11-20T09:00:00Z"))
    config = tmp_path / "commcare.yaml"
    config.write_text(json.dumps({"adapter": "commcare", **commcare_settings(commcare)}))
    commcare.throttle(0.5)
    run = CliRunner().invoke(main, ["sync", "commcare", "--config", str(config)])
    assert run.exit_code == 0, run.stderr
    assert [json.loads(line)["subject"] for line in run.stdout.splitlines()] == [
        commcare_case(7, "2026-11-20T09:00:00Z")["case_id"]]


def test_a_refused_connection_is_resent_even_for_a_post(caplog: pytest.LogCaptureFixture) -> None:
    # The same retry decision as for a 503: nothing reached the source, so a POST is safe to
    # send again; each wait is logged the same way.
    caplog.set_level(logging.WARNING)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    client = HttpClient(f"http://127.0.0.1:{port}/", retries=2, backoff=0.01,
                        sleep=waits.append)
    with pytest.raises(SourceUnavailableError, match="no answer from the source"):
        client.request_json("POST", "flags", body={"a": 1})
    assert len(waits) == 2
    assert "POST /flags: ConnectionError; try 2 of 3 in" in caplog.text
