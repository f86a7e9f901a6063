"""Console sessions end by themselves, and what a record says is shown, never run."""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from starlette.requests import Request

from mandate_rules._service._auth import Principal
from mandate_rules._service._console import _session
from mandate_rules._service._console._session import SESSION_COOKIE, Sessions

from ..service.packs import escort
from ..service.server import Server
from .pages import Visitor


def _request(cookie: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/ui/", "query_string": b"",
                    "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]})


def test_a_session_ends_after_its_lifetime_and_on_sign_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(_session.time, "monotonic", lambda: now[0])
    sessions = Sessions()
    who = Principal("ingo-a", frozenset({"read"}))
    sid = sessions.start(who)
    assert sessions.find(_request(sid)) == who
    now[0] += _session.LIFETIME - 1
    assert sessions.find(_request(sid)) == who
    now[0] += 2
    assert sessions.find(_request(sid)) is None
    other = sessions.start(who)
    sessions.end(_request(other))
    assert sessions.find(_request(other)) is None
    assert sessions.find(_request("forged")) is None


def test_the_oldest_sessions_give_way_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_session, "MAX_SESSIONS", 3)
    sessions = Sessions()
    who = Principal("ingo-a", frozenset({"read"}))
    ids = [sessions.start(who) for _ in range(4)]
    assert [sessions.find(_request(i)) is not None for i in ids] == [False, True, True, True]


def test_a_record_s_text_is_shown_as_text(start_server: Callable[..., Server]) -> None:
    server = start_server()
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    assert server.client().events([escort(armed=True, id="e-1", subject=hostile,
                                          area=hostile)]).status_code == 200
    visitor = Visitor(server)
    rows = visitor.queue()
    assert rows
    assert rows[0]["Record"].startswith(hostile)
    for path in ("/ui/", rows[0]["href"]):
        page = visitor.get(path).text
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert html.escape(hostile, quote=False).replace("&quot;", '"') in page.replace(
            "&#34;", '"')
