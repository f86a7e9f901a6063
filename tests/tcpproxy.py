"""A loopback TCP proxy that the tests can cut or partition: the network between a replica and
PostgreSQL, made to fail on purpose.

`TcpProxy(host, port)` listens on 127.0.0.1 at `.port` and forwards every connection to
(host, port), a pair of threads per connection copying bytes each way.

* `cut()` closes every open connection, both ways at once, as a dropped link or a restarted
  firewall would; the proxy keeps listening, so the next connection works.
* `pause()` stops the flow without closing anything, as a partition does: connections stay
  open, bytes already sent wait, new connections are not passed on, and each side hangs until
  its own timeout. `resume()` heals it and everything held goes through, in order.

When either side closes, the proxy closes both (no half-open connections: PostgreSQL's
protocol has none).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

_CHUNK = 65536
_POLL = 0.1  # seconds: how often the accepting thread looks whether it should stop


class TcpProxy:
    """A cuttable, pausable TCP proxy on 127.0.0.1 (see the module's docstring)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self._closing = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name=f"tcpproxy-{self.port}",
                                          daemon=True)
        self._acceptor.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def connections(self) -> int:
        """Sockets open through the proxy now (two per forwarded connection)."""
        with self._lock:
            return len(self._open)

    def cut(self) -> None:
        """Close every open connection both ways at once; keep accepting new ones."""
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def pause(self) -> None:
        """Stop passing bytes and connections on; everything open hangs (a partition)."""
        self._flowing.clear()

    def resume(self) -> None:
        """Let the bytes and connections held since `pause()` through."""
        self._flowing.set()

    def close(self) -> None:
        """Stop listening, cut every connection and wait for the threads to end."""
        self._closing.set()
        self._flowing.set()  # wake the threads held by a pause, so they see the end
        self._acceptor.join(10)
        self._listener.close()
        self.cut()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)

    def _accept(self) -> None:
        while not self._closing.is_set():
            if not self._flowing.wait(_POLL):
                continue  # paused: new connections wait in the listen queue
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        # One accepted just as `pause()` came does not reach the server either.
        self._flowing.wait()
        try:
            server = socket.create_connection(self.target, timeout=10)
        except OSError:
            _close(client)  # nothing listens behind the proxy: the client sees its end
            return
        for sock in (client, server):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._closing.is_set():
                _close(client)
                _close(server)
                return
            self._open.update((client, server))
            pumps = [threading.Thread(target=self._pump, args=(a, b), daemon=True)
                     for a, b in ((client, server), (server, client))]
            self._threads = [t for t in self._threads if t.is_alive()] + pumps
        for pump in pumps:
            pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy `source` to `sink` until either end goes; then close both."""
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                self._flowing.wait()  # a pause holds what came until `resume()`
                if self._closing.is_set():
                    break
                sink.sendall(data)
        except OSError:
            pass  # a cut, or a peer gone: either way this connection is over
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    # shutdown first: it wakes a thread blocked in recv() on this socket, which close() alone
    # does not do on Linux.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
