"""One `serve` per database: an exclusive lock on ``<db>.lock``, holding the owner's pid.

Two servers on one SQLite file would each rebuild their engines from the log and then write
beside each other, so each would miss what the other stored. The lock is an ``flock`` on a
file next to the database: the operating system releases it when the process ends, however it
ends (a server killed with SIGKILL does not block the next start), and the file keeps the pid
of its holder so that the refusal can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from .._errors import MandateRulesError


class DatabaseInUse(MandateRulesError):
    """Raised at start when another process holds the database's lock (the message names the
    file and that process), or the lock file cannot be opened."""


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@contextlib.contextmanager
def hold_database(db: Path) -> Iterator[Path]:
    """Hold the lock of `db` for the duration of the block; yields the lock file's path.

    Raises `DatabaseInUse` naming the database, the lock file and the holder's pid.
    """
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise DatabaseInUse(f"cannot create the lock file {path} beside the database "
                            f"({exc.strerror})") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise DatabaseInUse(
                f"{db.resolve()} is in use by another mandate-rules serve (pid {holder}, "
                f"lock {path.resolve()}); stop it or give another --db") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)
