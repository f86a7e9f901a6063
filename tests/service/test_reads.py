"""The store's reading connections (`_service/_reads.py`): one per thread that reads, and no
more than the most threads that ever read at once, however often the server's worker
threads are retired and replaced (anyio retires one idle for 10 s)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mandate_rules._database import parse_target
from mandate_rules._service._rows import AdvisoryFilter
from mandate_rules._service._store import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(parse_target(db_url))
    yield store
    store.close()


def open_readers(store: Store) -> int:
    """Reading connections open to the store, counted where they live: descriptors of this
    process on the SQLite file, or sessions PostgreSQL holds for the database."""
    target = store.target
    if target.path is not None:
        fd_dir = Path("/proc/self/fd")
        writer = 1
        return sum(1 for fd in os.listdir(fd_dir)
                   if _points_at(fd_dir / fd, target.path)) - writer
    row = store.connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'mandate-rules reader'").fetchone()
    return int(row[0])


def _points_at(link: Path, path: Path) -> bool:
    try:
        return Path(os.readlink(link)) == path.resolve()
    except OSError:  # closed meanwhile
        return False


def read_in_threads(store: Store, count: int) -> None:
    """`count` threads at once, each reading once, and ending once all have read."""
    start, done = threading.Barrier(count), threading.Barrier(count)

    def read() -> None:
        start.wait(30)
        store.list_advisories("default", AdvisoryFilter(), 0, 10)
        done.wait(30)  # alive until every one of them holds its connection

    threads = [threading.Thread(target=read) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_threads_that_come_and_go_reuse_the_connections_of_those_that_ended(
        store: Store) -> None:
    read_in_threads(store, 4)
    assert open_readers(store) == 4
    for _ in range(5):  # as after each quiet spell: new threads, the old ones gone
        read_in_threads(store, 3)
        assert open_readers(store) == 4
    read_in_threads(store, 6)  # more at once than ever: more connections, as many
    assert open_readers(store) == 6
    store.close()
    assert open_readers_after_close(store) == 0


def open_readers_after_close(store: Store) -> int:
    if store.target.path is not None:
        fd_dir = Path("/proc/self/fd")
        return sum(1 for fd in os.listdir(fd_dir) if _points_at(fd_dir / fd, store.target.path))
    other = Store(store.target)  # the closed store cannot ask any more
    try:
        return open_readers(other)
    finally:
        other.close()
