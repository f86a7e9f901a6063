"""The test proxy (tests/tcpproxy.py) between a client and a real PostgreSQL server: a cut
ends the open connections at once and the next one works; a pause hangs them until resumed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from . import pg
from .tcpproxy import TcpProxy

try:
    import psycopg
except ImportError:  # the pg_server fixture says so: a skip, or a failure where it is required
    psycopg = None


@pytest.fixture
def proxy(pg_server: str) -> Iterator[TcpProxy]:
    with TcpProxy(*pg.target(pg_server)) as running:
        yield running


@pytest.fixture
def proxied_url(pg_server: str, proxy: TcpProxy) -> str:
    return pg.via(pg_server, "127.0.0.1", proxy.port)


def test_a_query_goes_through_and_a_cut_ends_the_open_connection(
        proxy: TcpProxy, proxied_url: str) -> None:
    with psycopg.connect(proxied_url, autocommit=True) as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
        assert proxy.connections == 2
        proxy.cut()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    assert proxy.connections == 0
    with psycopg.connect(proxied_url, autocommit=True) as again:
        assert again.execute("SELECT 'after the cut'").fetchone() == ("after the cut",)


def test_a_cut_mid_transaction_loses_the_transaction(
        proxy: TcpProxy, proxied_url: str, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as direct:
        direct.execute("CREATE TABLE t (x int)")
    with psycopg.connect(pg.via(pg_url, "127.0.0.1", proxy.port)) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        proxy.cut()
        with pytest.raises(psycopg.OperationalError):
            conn.commit()
    with psycopg.connect(pg_url) as direct:
        assert direct.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_pause_hangs_new_and_open_connections_until_resumed(
        proxy: TcpProxy, proxied_url: str) -> None:
    with psycopg.connect(proxied_url, autocommit=True) as conn:
        proxy.pause()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(proxied_url, connect_timeout=2)  # libpq's minimum is 2 s
        answers: list[object] = []
        asking = threading.Thread(target=lambda: answers.append(
            conn.execute("SELECT 'held'").fetchone()))
        asking.start()
        asking.join(1.0)
        assert asking.is_alive()  # no answer across the partition
        assert answers == []
        proxy.resume()
        asking.join(30)
        assert answers == [("held",)]
        assert conn.execute("SELECT 2").fetchone() == (2,)
    with psycopg.connect(proxied_url, connect_timeout=10) as later:
        assert later.execute("SELECT 3").fetchone() == (3,)


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback echo server, for the proxy's own behaviour without PostgreSQL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def test_bytes_go_both_ways_a_cut_is_seen_at_once_and_close_stops_listening(
        echo_port: int) -> None:
    with TcpProxy("127.0.0.1", echo_port) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            client.sendall(b"x" * 200_000)
            got = b""
            while len(got) < 200_000:
                got += client.recv(65536)
            assert got == b"x" * 200_000
            proxy.cut()
            assert client.recv(10) == b""  # the end, at once: not a hang until a timeout
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            client.sendall(b"again")
            assert client.recv(10) == b"again"
        port = proxy.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10)
