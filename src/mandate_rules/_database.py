"""One small connection contract over the two SQL backends the sidecar and the adapters keep
their data in: SQLite (the embedded default, one file) and PostgreSQL (several sidecar
replicas on one database).

Code above this module writes one SQL text for both, with `?` placeholders, and reads rows by
column name (``row["seq"]``) or position. What differs between the backends is kept to a few
named places: the column types of a schema (`column_types`), a JSON field of a text column
(`Connection.json_field`), how many values one statement may bind (`max_params`), and
how a transaction that writes begins (`Connection.begin_sql`). Everything else is standard
SQL both speak: ``INSERT … ON CONFLICT … DO NOTHING/UPDATE``, ``RETURNING``, ``VALUES`` lists
(whose columns both name ``column1``, ``column2``…).

A PostgreSQL connection runs in autocommit mode, so that ``BEGIN``, ``COMMIT``,
``SAVEPOINT`` sent as statements mean what they mean on the SQLite connection (opened with
``isolation_level=None``), and the callers' transactions read the same on both.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs

from ._errors import MandateRulesError

__all__ = ["DB_ERRORS", "Connection", "DatabaseError", "Dialect", "Row", "SqliteConnection",
           "Target", "column_types", "open_postgresql", "parse_target"]

Dialect = Literal["sqlite", "postgresql"]

# PostgreSQL's wire protocol counts a statement's parameters in 16 bits.
_PG_MAX_PARAMS = 65_535


class DatabaseError(MandateRulesError):
    """Raised when PostgreSQL refuses a statement or a connection (psycopg's error is its
    ``__cause__``), or when a database URL cannot be used (no driver, a malformed URL). On
    SQLite, `sqlite3.Error` is raised as it is; catch `DB_ERRORS` for either."""


#: What a failed statement raises, on either backend.
DB_ERRORS: tuple[type[sqlite3.Error], type[DatabaseError]] = (sqlite3.Error, DatabaseError)


class Row(Protocol):
    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Connection(Protocol):
    """What the store and the adapters' tables use of a connection, on either backend."""

    dialect: Dialect
    begin_sql: str

    @property
    def max_params(self) -> int: ...

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def run_script(self, script: str, /) -> None: ...

    def json_field(self, column: str, key: str) -> str: ...

    def close(self) -> None: ...


def column_types(dialect: Dialect) -> dict[str, str]:
    """The words a schema text uses for its column types, per backend: `serial` (a key
    handed out in increasing order, never reused), `int` (64 bits) and `real` (a double)."""
    if dialect == "postgresql":
        return {"serial": "BIGSERIAL PRIMARY KEY", "int": "BIGINT", "real": "DOUBLE PRECISION"}
    return {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "int": "INTEGER", "real": "REAL"}


class SqliteConnection(sqlite3.Connection):
    """`sqlite3.Connection` with the contract's few extra names (pass it as `factory`)."""

    dialect: Dialect = "sqlite"
    # IMMEDIATE: take the write lock now, so that a busy file is waited on here (busy_timeout)
    # rather than failing at the first write of the transaction.
    begin_sql = "BEGIN IMMEDIATE"

    @property
    def max_params(self) -> int:
        return self.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def run_script(self, script: str, /) -> None:
        """Each `;`-separated statement in turn, inside the caller's transaction (sqlite3's
        own `executescript` commits first)."""
        for statement in script.split(";"):
            if statement.strip():
                self.execute(statement)

    def json_field(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"


@attrs.frozen
class Target:
    """Where a store lives: a SQLite file or a PostgreSQL database, as the user named it."""

    path: Path | None = None
    url: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    @property
    def dialect(self) -> Dialect:
        return "postgresql" if self.url is not None else "sqlite"

    @property
    def shown(self) -> str:
        """The target as it may be printed and logged: a URL's password replaced by ***."""
        if self.url is None:
            return str(self.path)
        parts = urllib.parse.urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.netloc.rsplit("@", 1)[1]
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def parse_target(text: str, *, password_env: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Target:
    """The store named by `text`: ``postgresql://…`` (or ``postgres://…``) is a PostgreSQL
    database (a libpq URL); anything else is the path of a SQLite file. With `password_env`,
    the password is the value of that environment variable (libpq's own ``PGPASSWORD``
    works too, untouched)."""
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme:
        if password_env is not None:
            raise DatabaseError(f"password_env is set ({password_env}), but the database is a "
                                f"SQLite file ({text}), which takes no password")
        return Target(path=Path(text))
    if scheme not in ("postgresql", "postgres"):
        raise DatabaseError(f"expected a SQLite file path or a postgresql:// URL, got a "
                            f"{scheme}:// URL")
    password = None
    if password_env is not None:
        env = os.environ if environ is None else environ
        password = env.get(password_env)
        if not password:
            raise DatabaseError(f"password_env names {password_env}, but that environment "
                                f"variable holds no password")
    parts = urllib.parse.urlsplit(text)
    if not parts.hostname and "host=" not in parts.query:
        raise DatabaseError(f"{Target(url=text).shown}: name the server's host "
                            f"(postgresql://USER@HOST:PORT/DATABASE)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise DatabaseError(f"{Target(url=text).shown}: {exc}") from None
    return Target(url=text, password=password)


class _NoRows:
    """What a statement that needed no connection returns."""

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


_NO_ROWS = _NoRows()


class _PgRow:
    """A PostgreSQL row read by column name or position, as `sqlite3.Row` is."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: Mapping[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_maker(cursor: Any) -> Any:
    description = cursor.description
    if description is None:
        return tuple
    index = {column.name: i for i, column in enumerate(description)}

    def make(values: Sequence[Any]) -> _PgRow:
        return _PgRow(values, index)
    return make


class _PgConnection:
    """A psycopg connection behind the contract: `?` placeholders, autocommit, errors
    translated to `DatabaseError`."""

    dialect: Dialect = "postgresql"
    max_params = _PG_MAX_PARAMS
    begin_sql = "BEGIN"

    def __init__(self, connect: Any, errors: type[Exception], idle: Any) -> None:
        self._connect = connect
        self._conn = connect()
        self._errors = errors
        self._idle = idle  # psycopg's TransactionStatus.IDLE
        # The texts translated so far (a few dozen distinct statements per connection).
        self._texts: dict[str, str] = {}
        # Whether a transaction was begun and not ended: a connection lost inside one must
        # fail the rest of it, never carry on in autocommit on a new connection.
        self._open = False

    @property
    def in_transaction(self) -> bool:
        if self._conn.closed:
            return self._open
        return bool(self._conn.info.transaction_status != self._idle)

    def _ready(self, text: str) -> bool:
        """Connect again if the connection was lost (a server restart, a cut network), but
        only between transactions; False: this statement needs no connection (the
        ROLLBACK of a transaction the lost connection already ended)."""
        word = text.lstrip()[:8].upper()
        ends = word.startswith(("ROLLBACK", "COMMIT"))
        if not self._conn.closed:
            if word.startswith("BEGIN"):
                self._open = True
            elif ends:
                self._open = False
            return True
        if self._open and word.startswith("ROLLBACK"):
            self._open = False
            return False
        if self._open:
            raise DatabaseError("PostgreSQL: the connection was lost during the transaction; "
                                "nothing of it was committed")
        try:
            self._conn = self._connect()
        except self._errors as exc:
            raise DatabaseError(f"PostgreSQL: cannot connect again: {_first_line(exc)}") \
                from exc
        self._open = word.startswith("BEGIN")
        return True

    @property
    def raw(self) -> Any:
        """The psycopg connection (LISTEN/NOTIFY and what else only PostgreSQL has)."""
        return self._conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        text = self._texts.get(sql)
        if text is None:
            text = self._texts[sql] = sql.replace("%", "%%").replace("?", "%s")
        outside = not self._open  # before the statement: not inside a transaction
        if not self._ready(text):
            return _NO_ROWS
        try:
            return self._conn.execute(text, parameters)
        except self._errors as exc:
            if not (outside and self._conn.closed):
                raise DatabaseError(f"PostgreSQL: {_first_line(exc)}") from exc
            lost = exc
        # The connection was found lost by a statement outside any transaction (a read, a
        # lease renewed, a BEGIN): connect again and send it once more. Such statements are
        # safe to send twice; a transaction's own statements never are, and are not.
        self._open = False
        if not self._ready(text):
            return _NO_ROWS
        try:
            return self._conn.execute(text, parameters)
        except self._errors as exc:
            raise DatabaseError(f"PostgreSQL: {_first_line(exc)} (after the connection was "
                                f"lost: {_first_line(lost)})") from exc

    def run_script(self, script: str, /) -> None:
        self._ready("")
        try:
            self._conn.execute(script)
        except self._errors as exc:
            raise DatabaseError(f"PostgreSQL: {_first_line(exc)}") from exc

    def json_field(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def close(self) -> None:
        self._conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_postgresql(target: Target, *, application_name: str = "mandate-rules",
                    options: Mapping[str, str] | None = None) -> Connection:
    """A connection to the PostgreSQL database of `target`; `options` are server settings
    for this session (``{"idle_in_transaction_session_timeout": "10s"}``)."""
    assert target.url is not None
    try:  # an optional dependency (mandate-rules[postgresql]): imported when first needed
        import psycopg  # noqa: PLC0415
    except ImportError:
        raise DatabaseError("a postgresql:// database needs the PostgreSQL driver: install "
                            "mandate-rules[postgresql]") from None
    settings = " ".join(f"-c {name}={value}" for name, value in (options or {}).items())
    extra: dict[str, Any] = {"application_name": application_name, "connect_timeout": 10,
                             # A peer that vanished (a cut network) is found in ~20 s, not hours.
                             "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                             "keepalives_count": 3}
    if settings:
        extra["options"] = settings
    if target.password is not None:
        extra["password"] = target.password
    url = target.url

    def connect() -> Any:
        return psycopg.connect(url, autocommit=True, row_factory=_row_maker, **extra)

    try:
        return _PgConnection(connect, psycopg.Error, psycopg.pq.TransactionStatus.IDLE)
    except psycopg.Error as exc:
        raise DatabaseError(f"{target.shown}: cannot connect: {_first_line(exc)}") from exc
