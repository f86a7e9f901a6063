"""A PostgreSQL server for the tests, named by MANDATE_RULES_TEST_PG, and a fresh database per test.

`.ci/postgres` prints the URL to put there. Without it, or when the server does not answer,
the tests that need it skip with the reason; with MANDATE_RULES_REQUIRE_PG=1 (as in CI) they
fail instead, so a run cannot pass by silently leaving them out. The URL's password never
appears in a reason or a test id.

psycopg is imported only where it is used: the rest of the suite runs without it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

PG_ENV = "MANDATE_RULES_TEST_PG"
REQUIRE_ENV = "MANDATE_RULES_REQUIRE_PG"
# Every database a test makes starts with this: a leftover one is easy to find and drop.
TEST_DB_PREFIX = "mr_t_"
CONNECT_TIMEOUT = 10  # seconds; the shared machine may be slow, a dead port answers at once


def redact(url: str) -> str:
    """`url` with its password replaced by `***`, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def without_password(url: str, environ: dict[str, str] | os._Environ[str]) -> str:
    """`url` without its password, which goes to PGPASSWORD in `environ` instead (libpq
    reads it there): the URLs the tests pass around, print on a failure or put on a server's
    command line then hold no secret."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    environ["PGPASSWORD"] = parts.password
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead of its own (user, host and options kept)."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def via(url: str, host: str, port: int) -> str:
    """`url` reaching its server through `host:port` (a proxy) instead."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{port}"))


def target(url: str) -> tuple[str, int]:
    """The host and port `url` names (PostgreSQL's 5432 when it names none)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def required(environ: Mapping[str, str]) -> bool:
    """Whether a missing server fails the tests (MANDATE_RULES_REQUIRE_PG set, and not 0)."""
    return environ.get(REQUIRE_ENV, "").strip() not in ("", "0")


def server_problem(environ: Mapping[str, str]) -> str | None:
    """Why the tests cannot use the server MANDATE_RULES_TEST_PG names; None when they can."""
    url = environ.get(PG_ENV, "").strip()
    if not url:
        return (f"{PG_ENV} is not set: no PostgreSQL server to test against "
                f'(export {PG_ENV}="$(.ci/postgres)")')
    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        return f"{PG_ENV} should be a postgresql:// URL, not {redact(url)!r}"
    try:
        import psycopg  # noqa: PLC0415 (only the PostgreSQL tests need it)
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]'): no PostgreSQL tests"
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot connect to {redact(url)} ({PG_ENV}): {first_line}"
    return None


def give_up(reason: str, environ: Mapping[str, str]) -> NoReturn:
    """Skip the test for `reason`, or fail it when the environment requires PostgreSQL."""
    if required(environ):
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so this fails rather than skips",
                    pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (its URL), dropped after even if still in use."""
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    name = f"{TEST_DB_PREFIX}{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        # FORCE ends the connections a test (or a replica it started) left open. It may not
        # end an autovacuum worker that just started on the database (the role is not a
        # superuser): that one finishes in a moment, so ask again.
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        for attempt in range(20):
            try:
                with psycopg.connect(server_url, autocommit=True,
                                     connect_timeout=CONNECT_TIMEOUT) as conn:
                    conn.execute(drop)
                break
            except psycopg.errors.InsufficientPrivilege:
                if attempt == 19:
                    raise
                time.sleep(0.5)
