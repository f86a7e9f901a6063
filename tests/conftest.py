"""Fixtures: throw-away rule packs and engines over them; a PostgreSQL database per test."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Engine

from . import pg
from .helpers import BUNDLE_YAML, next_id


@pytest.fixture
def write_pack(tmp_path: Path) -> Callable[..., Path]:
    """Write a throw-away rules directory: bundle.yaml plus the given packs and contexts."""

    def write(packs: dict[str, str], *, contexts: dict[str, str] | None = None,
              bundle: str = BUNDLE_YAML) -> Path:
        root = tmp_path / f"rules-{next_id()}"
        root.mkdir()
        (root / "bundle.yaml").write_text(bundle)
        for name, text in packs.items():
            (root / name).write_text(textwrap.dedent(text))
        if contexts:
            (root / "contexts").mkdir()
            for name, text in contexts.items():
                (root / "contexts" / name).write_text(textwrap.dedent(text))
        return root

    return write


@pytest.fixture
def engine_for(write_pack: Callable[..., Path]) -> Callable[..., Engine]:
    """An Engine over throw-away packs (same arguments as `write_pack`)."""

    def build(packs: dict[str, str], **kwargs: Any) -> Engine:
        return Engine.from_directory(write_pack(packs, **kwargs))

    return build


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The URL of the PostgreSQL server MANDATE_RULES_TEST_PG names (see tests/pg.py); the
    test skips (fails under MANDATE_RULES_REQUIRE_PG=1) with the reason when there is none."""
    problem = pg.server_problem(os.environ)
    if problem is not None:
        pg.give_up(problem, os.environ)
    return pg.without_password(os.environ[pg.PG_ENV].strip(), os.environ)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The URL of a fresh, empty database made for this test and dropped after it."""
    with pg.fresh_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test on both backends: a SQLite file's path, then a fresh PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("pg_url"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `both_backends` runs its sidecar tests on SQLite and on PostgreSQL."""
    if metafunc.definition.get_closest_marker("both_backends") is not None \
            and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store the test's servers use: "sqlite" unless the module runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """For a module-scoped server, on both backends: None (its own SQLite file), then a
    fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield None
        return
    problem = pg.server_problem(os.environ)
    if problem is not None:
        pg.give_up(problem, os.environ)
    with pg.fresh_database(pg.without_password(os.environ[pg.PG_ENV].strip(),
                                               os.environ)) as url:
        yield url
