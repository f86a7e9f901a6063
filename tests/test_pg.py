"""The PostgreSQL fixtures (tests/pg.py): a fresh database per test, dropped after; skip or
fail when there is no server, by the rule CI relies on."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from . import pg
from .service.server import free_port

try:
    import psycopg
except ImportError:  # the pg_server fixture says so: a skip, or a failure where it is required
    psycopg = None

SECRET = "s3cret-not-to-show"


def user_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")]


def databases(server: str) -> set[str]:
    with psycopg.connect(server) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_a_test_gets_a_fresh_empty_database_of_its_own(pg_url: str, pg_server: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    assert name.startswith(pg.TEST_DB_PREFIX)
    assert name != pg_server.rsplit("/", 1)[1]
    assert user_tables(pg_url) == []
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        conn.execute("CREATE TABLE t (x int)")  # the test's role may build its schema there
    assert user_tables(pg_url) == ["public.t"]


def test_the_database_is_dropped_after_even_with_a_connection_left_open(pg_server: str) -> None:
    with pg.fresh_database(pg_server) as url:
        name = url.rsplit("/", 1)[1]
        assert name in databases(pg_server)
        left_open = psycopg.connect(url)  # as a replica killed mid-test would leave one
        left_open.execute("CREATE TABLE t (x int)")
        left_open.commit()
    try:
        assert name not in databases(pg_server)
        with pytest.raises(psycopg.OperationalError):
            left_open.execute("SELECT 1")
    finally:
        left_open.close()


def test_two_fresh_databases_are_distinct(pg_server: str) -> None:
    with pg.fresh_database(pg_server) as one, pg.fresh_database(pg_server) as two:
        assert one != two
        with psycopg.connect(one) as conn:
            conn.execute("CREATE TABLE only_in_one (x int)")
        assert user_tables(two) == []


def test_db_url_gives_each_backend_in_turn(db_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["db_url"]
    if backend == "sqlite":
        assert Path(db_url).name == "store.db"
        assert Path(db_url).parent.is_dir()
        assert not Path(db_url).exists()  # a file for the store to make
    else:
        assert db_url.startswith("postgresql://")
        assert user_tables(db_url) == []


def test_no_server_named_skips_with_the_reason_and_fails_when_required() -> None:
    reason = pg.server_problem({})
    assert reason is not None
    assert pg.PG_ENV in reason
    assert ".ci/postgres" in reason
    with pytest.raises(pytest.skip.Exception, match=pg.PG_ENV):
        pg.give_up(reason, {})
    with pytest.raises(pytest.fail.Exception, match=f"{pg.PG_ENV}.*{pg.REQUIRE_ENV} is set"):
        pg.give_up(reason, {pg.REQUIRE_ENV: "1"})
    with pytest.raises(pytest.skip.Exception):
        pg.give_up(reason, {pg.REQUIRE_ENV: "0"})


@pytest.mark.skipif(psycopg is None, reason="psycopg is not installed")
def test_an_unreachable_server_is_named_without_its_password() -> None:
    url = f"postgresql://someone:{SECRET}@127.0.0.1:{free_port()}/db"
    reason = pg.server_problem({pg.PG_ENV: url})
    assert reason is not None
    assert reason.startswith("cannot connect to postgresql://someone:***@127.0.0.1:")
    assert SECRET not in reason
    with pytest.raises(pytest.fail.Exception) as failed:
        pg.give_up(reason, {pg.PG_ENV: url, pg.REQUIRE_ENV: "1"})
    assert SECRET not in str(failed.value)


def test_a_wrong_password_or_a_url_of_another_kind_is_a_reason_too(pg_server: str) -> None:
    parts = urlsplit(pg_server)
    wrong = urlunsplit(parts._replace(
        netloc=f"{parts.username}:{SECRET}@{parts.hostname}:{parts.port}"))
    reason = pg.server_problem({pg.PG_ENV: wrong})
    assert reason is not None
    assert "cannot connect" in reason
    assert SECRET not in reason
    other = pg.server_problem({pg.PG_ENV: f"mysql://root:{SECRET}@127.0.0.1/db"})
    assert other is not None
    assert "postgresql://" in other
    assert SECRET not in other


def test_a_reachable_server_has_no_problem(pg_server: str) -> None:
    assert pg.server_problem({pg.PG_ENV: pg_server}) is None


def test_redact_and_with_database_keep_the_rest_of_the_url() -> None:
    url = f"postgresql://u:{SECRET}@db.example:6543/main?sslmode=require"
    assert pg.redact(url) == "postgresql://u:***@db.example:6543/main?sslmode=require"
    assert pg.with_database(url, "mr_t_1") == \
        f"postgresql://u:{SECRET}@db.example:6543/mr_t_1?sslmode=require"
    assert pg.redact("postgresql://127.0.0.1/x") == "postgresql://127.0.0.1/x"
