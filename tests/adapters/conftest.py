"""Adapter tests run offline: the loopback guard is on, and a socket-level check refuses (and
records) any connection or name lookup off this machine, so no test can pass by reaching a
real server."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mandate_rules._adapters import LOOPBACK_ENV, load_adapter_class
from mandate_rules.adapters.testing import (
    COMMCARE_DOMAIN,
    COMMCARE_KEY,
    COMMCARE_USER,
    KOBO_ASSET,
    KOBO_TOKEN,
    PRIMERO_PASSWORD,
    PRIMERO_USER,
    FakeCommCare,
    FakeKobo,
    FakePrimero,
)

ENV = {"KOBO_TOKEN": KOBO_TOKEN, "PRIMERO_USER": PRIMERO_USER,
       "PRIMERO_PASSWORD": PRIMERO_PASSWORD, "COMMCARE_KEY": COMMCARE_KEY,
       "PUSH_SECRET": "fake-push-secret"}
FAST_RETRY = {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05, "max_retry_after": 5}


class EgressAttempt(AssertionError):
    """A test tried to reach an address off this machine."""


def _loopback(address: Any) -> bool:
    if isinstance(address, tuple):
        address = address[0]
    if not isinstance(address, str):
        return True  # a Unix socket path
    if address in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_egress(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The loopback guard on, and every socket connect or name lookup checked."""
    monkeypatch.setenv(LOOPBACK_ENV, "1")
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            attempts.append(address)
            raise EgressAttempt(f"a connection to {address!r} was attempted")
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            attempts.append(address)
            raise EgressAttempt(f"a connection to {address!r} was attempted")
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host.decode() if isinstance(host, bytes) else host):
            attempts.append(host)
            raise EgressAttempt(f"a name lookup of {host!r} was attempted")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert not attempts, f"the test tried to leave this machine: {attempts}"


@pytest.fixture
def kobo() -> Iterator[FakeKobo]:
    server = FakeKobo()
    yield server
    server.stop()


@pytest.fixture
def moved_kobo(kobo: FakeKobo) -> Iterator[FakeKobo]:
    """The same KoboToolbox, reached at another address (another port)."""
    server = FakeKobo(kobo.submissions)
    yield server
    server.stop()


@pytest.fixture
def primero() -> Iterator[FakePrimero]:
    server = FakePrimero()
    yield server
    server.stop()


@pytest.fixture
def commcare() -> Iterator[FakeCommCare]:
    server = FakeCommCare()
    yield server
    server.stop()


def kobo_settings(server: FakeKobo, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "asset_uid": KOBO_ASSET, "token_env": "KOBO_TOKEN",
            "page_size": 3, "retry": FAST_RETRY, "timeout": {"connect": 2, "read": 5},
            "push_secret_env": "PUSH_SECRET", **extra}


def primero_settings(server: FakePrimero, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "page_size": 2, "retry": FAST_RETRY,
            "auth": {"type": "basic", "user_env": "PRIMERO_USER",
                     "password_env": "PRIMERO_PASSWORD"},
            "timeout": {"connect": 2, "read": 5}, "push_secret_env": "PUSH_SECRET", **extra}


def commcare_settings(server: FakeCommCare, **extra: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "domain": COMMCARE_DOMAIN,
            "case_type": "movement_request", "username": COMMCARE_USER,
            "api_key_env": "COMMCARE_KEY", "page_size": 2, "retry": FAST_RETRY,
            "timeout": {"connect": 2, "read": 5}, "push_secret_env": "PUSH_SECRET",
            "write_back": {"mode": "case", "owner_id": "owner-field-team-1"}, **extra}


@pytest.fixture
def make_adapter(tmp_path: Path) -> Callable[..., Any]:
    """Build a registered adapter from settings, with the test environment's credentials."""
    def make(name: str, settings: dict[str, Any], env: dict[str, str] | None = None) -> Any:
        env = ENV if env is None else {"PUSH_SECRET": ENV["PUSH_SECRET"], **env}
        return load_adapter_class(name).from_config(settings, base_dir=tmp_path, env=env)

    return make
