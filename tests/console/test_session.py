"""Console sessions (kept in the store, so every replica knows them) end by themselves and
on sign-out, and what a record says is shown, never run."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator

import pytest
from starlette.requests import Request

from mandate_rules._database import parse_target
from mandate_rules._service._auth import Authenticator, Principal
from mandate_rules._service._config import ServiceConfig, TokenSpec, token_digest
from mandate_rules._service._console import _session
from mandate_rules._service._console._session import SESSION_COOKIE, Sessions
from mandate_rules._service._store import Store

from ..service.packs import escort
from ..service.server import Server
from .pages import Visitor

TOKEN, OTHER = "test-token-console-0123456789", "test-token-other-0123456789"


def _request(cookie: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/ui/", "query_string": b"",
                    "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]})


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(parse_target(db_url))
    yield store
    store.close()


def _auth(*tokens: str) -> Authenticator:
    """Tokens of tenant ingo-a with the read role."""
    return Authenticator(ServiceConfig(tokens=tuple(
        TokenSpec("ingo-a", frozenset({"read"}), token_digest(t)) for t in tokens)))


def _sessions(store: Store, auth: Authenticator) -> Sessions:
    sessions = Sessions(store, auth)
    sessions.load_key()
    return sessions


def test_a_session_ends_after_its_lifetime_and_on_sign_out(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [time.time()]
    monkeypatch.setattr(_session.time, "time", lambda: now[0])
    sessions = _sessions(store, _auth(TOKEN))
    who = Principal("ingo-a", frozenset({"read"}))
    sid = sessions.start(token_digest(TOKEN))
    assert sessions.find(_request(sid)) == who
    now[0] += _session.LIFETIME - 1
    assert sessions.find(_request(sid)) == who
    now[0] += 2
    assert sessions.find(_request(sid)) is None
    other = sessions.start(token_digest(TOKEN))
    assert sessions.find(_request(other)) == who
    sessions.end(_request(other))
    assert sessions.find(_request(other)) is None
    assert sessions.find(_request("forged")) is None


def test_sessions_that_ran_out_are_deleted_and_only_a_hash_of_the_cookie_is_kept(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [time.time()]
    monkeypatch.setattr(_session.time, "time", lambda: now[0])
    sessions = _sessions(store, _auth(TOKEN))
    old = [sessions.start(token_digest(TOKEN)) for _ in range(3)]
    now[0] += _session.LIFETIME + 1
    new = sessions.start(token_digest(TOKEN))
    kept = [row[0] for row in store._reader().execute("SELECT id FROM console_sessions")]
    assert len(kept) == 1
    assert new not in kept
    assert not set(old) & set(kept)


def test_every_replica_of_one_database_knows_a_session_and_takes_its_forms(
        store: Store, db_url: str) -> None:
    """Two processes on one database, as replicas behind a load balancer are: signed in on
    one, known to the other; a form the one rendered is taken by the other."""
    other_store = Store(parse_target(db_url))
    try:
        here = _sessions(store, _auth(TOKEN))
        there = _sessions(other_store, _auth(TOKEN))
        sid = here.start(token_digest(TOKEN))
        assert there.find(_request(sid)) == Principal("ingo-a", frozenset({"read"}))
        assert there.csrf_holds(sid, "form", here.csrf(sid, "form"))
        assert not there.csrf_holds(sid, "form", here.csrf(sid, "sign-in"))
        there.end(_request(sid))
        assert here.find(_request(sid)) is None
    finally:
        other_store.close()


def test_a_token_taken_out_of_the_settings_signs_its_sessions_out(store: Store) -> None:
    sid = _sessions(store, _auth(TOKEN, OTHER)).start(token_digest(TOKEN))
    assert _sessions(store, _auth(OTHER)).find(_request(sid)) is None
    assert _sessions(store, _auth(TOKEN)).find(_request(sid)) is not None


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
