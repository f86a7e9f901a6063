"""The edges of a connection, over raw sockets: a request's head is bounded in bytes and in
time, so are its body and the connections open at once; every refusal is the API's JSON."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .packs import escort, v1_rules
from .server import Server

pytestmark = pytest.mark.both_backends

LIMITS = ("max_header_bytes = 8192\nheader_timeout = 1\nbody_timeout = 1\n"
          "max_connections = 20\n")


@pytest.fixture
def edgy(start_server: Callable[..., Server], tmp_path: Path) -> Server:
    config = tmp_path / "limits.toml"
    config.write_text(LIMITS)
    return start_server(rules=v1_rules(tmp_path / "rules"), args=["--config", str(config)])


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read to its end."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed in the body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def error_of(body: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)["error"]
    return error


def closed(sock: socket.socket) -> bool:
    """True once the server has closed its side (EOF or reset), after any answer."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def peak_rss_kib(server: Server) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc")


def test_a_huge_header_is_refused_431_before_it_is_read(edgy: Server) -> None:
    total = 64 << 20
    sent = {"bytes": 0, "when_answered": -1}
    peak_before = peak_rss_kib(edgy)
    sock = connect(edgy)

    def send() -> None:
        chunk = b"a" * (1 << 20)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            while sent["bytes"] < total:
                sock.sendall(chunk)
                sent["bytes"] += len(chunk)
        except OSError:
            pass  # the server closed the connection

    sender = threading.Thread(target=send)
    sender.start()
    status, headers, body = read_response(sock)
    sent["when_answered"] = sent["bytes"]
    sender.join(60)
    sock.close()
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error = error_of(body)
    assert error["code"] == "headers-too-large"
    assert "8192 bytes" in error["message"]
    # Answered long before the 64 MiB were sent; what was sent by then sits in the kernel's
    # socket buffers, not in the server.
    assert sent["when_answered"] < total // 2, sent
    assert peak_rss_kib(edgy) - peak_before < 32 * 1024
    assert edgy.client().get("/healthz").status_code == 200


def test_a_long_url_is_refused_414_as_json(edgy: Server) -> None:
    sock = connect(edgy)
    sock.sendall(b"GET /v1/rules/" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = read_response(sock)
    assert (status, headers["content-type"]) == (414, "application/json")
    assert error_of(body)["code"] == "uri-too-long"
    assert closed(sock)


def test_headers_just_under_the_limit_are_served(edgy: Server) -> None:
    response = edgy.client().get("/healthz", headers={"X-Padding": "p" * 7000})
    assert response.status_code == 200


def test_silent_and_half_sent_requests_are_closed_and_healthz_is_served_meanwhile(
        edgy: Server) -> None:
    silent = [connect(edgy) for _ in range(10)]
    half = connect(edgy)
    half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
    assert edgy.client().get("/healthz").status_code == 200
    for sock in silent:
        assert sock.recv(100) == b""  # closed, nothing said: there was no request
        sock.close()
    status, headers, body = read_response(half)
    assert (status, headers["connection"]) == (408, "close")
    error = error_of(body)
    assert (error["code"], error["path"]) == ("request-timeout", "headers")
    assert closed(half)


def test_a_body_that_stops_coming_is_answered_408(edgy: Server) -> None:
    sock = connect(edgy)
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 500\r\n\r\n{\"specversion\": ")
    status, _, body = read_response(sock)
    assert status == 408
    assert error_of(body)["path"] == "body"
    assert closed(sock)
    assert "unexpected error" not in edgy.log_text()


def test_past_max_connections_one_more_is_answered_503_and_closed(edgy: Server) -> None:
    held = [connect(edgy) for _ in range(20)]
    extra = connect(edgy)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = read_response(extra)
    assert status == 503
    assert headers["retry-after"] == "1"
    assert error_of(body)["code"] == "too-many-connections"
    assert closed(extra)
    for sock in held:
        sock.close()
    assert edgy.client().get("/healthz").status_code == 200


def test_malformed_http_is_answered_as_json(edgy: Server) -> None:
    sock = connect(edgy)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")
    status, headers, body = read_response(sock)
    assert (status, headers["content-type"]) == (400, "application/json")
    assert error_of(body)["code"] == "malformed-request"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_offer_to_switch_to_h2c_is_ignored_and_the_body_read(
        edgy: Server, framing: str) -> None:
    """What Java's default HttpClient sends on every request (JDK 17 here)."""
    body = json.dumps(escort(id=f"h2c-{framing}")).encode()
    if framing == "content-length":
        framed = b"Content-Length: %d\r\n\r\n" % len(body) + body
    else:
        framed = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    sock = connect(edgy)
    sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                 b"HTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\n"
                 b"Content-Type: application/cloudevents+json\r\n" + framed)
    status, _, answer = read_response(sock)
    assert status == 200, answer
    assert [a["rule_id"] for a in json.loads(answer)["advisories"]] == ["STL-001"]
    # The connection stays HTTP/1.1 and takes the next request.
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(sock)[0] == 200
    sock.close()


def test_connect_is_refused(edgy: Server) -> None:
    sock = connect(edgy)
    sock.sendall(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n")
    status, _, body = read_response(sock)
    assert status == 405
    assert error_of(body)["code"] == "method-not-allowed"


def errors_counted(server: Server) -> dict[str, float]:
    counted = {}
    for line in server.client().get("/metrics").text.splitlines():
        if line.startswith("mandate_rules_errors_total{"):
            code = line.split('code="', 1)[1].split('"', 1)[0]
            counted[code] = float(line.split()[-1])
    return counted


def test_refusals_at_the_connection_are_counted_with_the_apps_errors(edgy: Server) -> None:
    """Answered before any request reaches the app, and counted by code all the same."""
    before = errors_counted(edgy)
    for head in (b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
                 b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
        sock = connect(edgy)
        sock.sendall(head)
        read_response(sock)
        sock.close()
    # 21 sockets beyond the test client's own keep-alive ones: each refused is answered 503
    # at once, unasked, while a held one waits in silence.
    opened = [connect(edgy) for _ in range(21)]
    # The refused are answered at once; the held are closed, unanswered, after header_timeout
    # (1 s): look for answers until shortly before that.
    until, answered = time.monotonic() + 0.8, set()
    while (left := until - time.monotonic()) > 0:
        readable, _, _ = select.select([s for s in opened if s not in answered], [], [], left)
        for sock in readable:
            first = sock.recv(12, socket.MSG_PEEK)
            assert first in (b"HTTP/1.1 503", b""), first
            answered.add(sock)
    refused = sum(1 for sock in answered if sock.recv(12, socket.MSG_PEEK))
    assert refused, "no connection refused"
    for sock in opened:
        sock.close()
    # Until the server has seen those sockets close it may refuse more: each probe refused
    # is counted as well.
    deadline = time.monotonic() + 10
    while True:
        probe = connect(edgy)
        probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status = read_response(probe)[0]
        probe.close()
        if status == 200:
            break
        assert status == 503, status
        assert time.monotonic() < deadline, "still refused after 10 s"
        refused += 1
    after = errors_counted(edgy)
    expected = {"malformed-request": 1, "headers-too-large": 1, "uri-too-long": 1,
                "too-many-connections": refused}
    for code, more in expected.items():
        assert after.get(code, 0) == before.get(code, 0) + more, (code, before, after)
