"""Several sidecar replicas delivering one PostgreSQL outbox at once: each due row is claimed
by exactly one of them (FOR UPDATE SKIP LOCKED, then a lease), so the source receives every
advisory exactly once. The replicas are separate processes on connections of their own; the
source is a recording HTTP server on loopback."""

from __future__ import annotations

import collections
import http.server
import multiprocessing
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import Adapter, Batch, Outbox, Pulled, WriteResult
from mandate_rules._adapters.testing import sample_advisory
from mandate_rules._database import parse_target

from .helpers_local import event_for

_SOURCE = "test://recording"
_ROWS = 200
_REPLICAS = 3


class _Recording(Adapter):
    """Writes each advisory with one POST to the recording source."""

    name = "recording"

    def __init__(self, base: str) -> None:
        self.base = base

    @classmethod
    def from_config(cls, config: Any, *, base_dir: Path, env: Any) -> Adapter:
        raise NotImplementedError

    @property
    def source(self) -> str:
        return _SOURCE

    def parse(self, body: bytes, headers: Any) -> Batch:
        return Batch()

    def pull(self, cursor: str | None) -> Pulled:
        return Pulled()

    def write_back(self, advisory: Advisory) -> WriteResult:
        request = urllib.request.Request(f"{self.base}/{advisory.id}", data=b"{}",
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
        return WriteResult("recorded", remote_id=advisory.id)


def _replica(url: str, base: str, start: Any, results: Any) -> None:
    """One replica: deliver small batches until no row is pending."""
    outbox = Outbox(parse_target(url))
    adapter = _Recording(base)
    start.wait(30)
    written = 0
    for _ in range(10_000):
        written += outbox.deliver_due(lambda source: adapter, limit=10).written
        if outbox.pending() == 0:
            break
    outbox.close()
    results.put(written)


@pytest.fixture
def recording_source() -> Iterator[tuple[str, collections.Counter[str]]]:
    """A loopback HTTP server counting the POSTs it receives, per advisory id."""
    writes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                writes[self.path.lstrip("/")] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", writes
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_replicas_delivering_at_once_write_each_row_once(
        pg_url: str, recording_source: tuple[str, collections.Counter[str]]) -> None:
    base, writes = recording_source
    outbox = Outbox(parse_target(pg_url))
    ids = set()
    for n in range(_ROWS):
        advisory = sample_advisory(event_for(_SOURCE, subject=f"rec-{n}"))
        assert outbox.enqueue(advisory)
        ids.add(advisory.id)
    assert len(ids) == _ROWS
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    replicas = [context.Process(target=_replica, args=(pg_url, base, start, results))
                for _ in range(_REPLICAS)]
    for replica in replicas:
        replica.start()
    start.set()
    written = [results.get(timeout=120) for _ in replicas]
    for replica in replicas:
        replica.join(30)
        assert replica.exitcode == 0
    assert set(writes) == ids
    assert [n for n in writes.values() if n != 1] == []  # every advisory written once
    assert sum(written) == _ROWS, written
    assert outbox.pending() == 0
    assert outbox.counts() == {(_SOURCE, "done"): _ROWS}
    outbox.close()
