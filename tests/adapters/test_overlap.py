"""The pull's overlap window: a record that becomes readable *below* the cursor after a later
one was read (KPI's late row, Primero's late commit, CommCare's late index) still comes out,
once, on the next run; and `since` is compared as a time, whatever its zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mandate_rules import Event
from mandate_rules._adapters import AdapterConfigError, AdapterStore, event_fingerprint, sync
from mandate_rules.adapters.testing import (
    FakeCommCare,
    FakeKobo,
    FakePrimero,
    FakeServer,
    commcare_case,
    kobo_submission,
    primero_case,
)

from .conftest import commcare_settings, kobo_settings, primero_settings

T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def kobo_time(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def primero_time(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def commcare_time(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Run:
    """A store and the events each `sync` handed on."""

    def __init__(self, store: AdapterStore, make: Callable[[], Any]) -> None:
        self.store, self.make = store, make
        self.events: list[Event] = []

    def sync(self) -> list[str]:
        before = len(self.events)
        report = sync(self.make(), self.store, self.events.extend)
        assert report.complete, report.error
        return [e.subject or "" for e in self.events[before:]]


@pytest.fixture
def run_for(tmp_path: Path, make_adapter: Callable[..., Any]) -> Iterator[Callable[..., Run]]:
    stores: list[AdapterStore] = []

    def make(name: str, settings: dict[str, Any]) -> Run:
        store = AdapterStore(tmp_path / f"{name}-{len(stores)}.sqlite")
        stores.append(store)
        return Run(store, lambda: make_adapter(name, settings))

    yield make
    for store in stores:
        store.close()


# ----------------------------------------------------------------------- the three races


def test_kobo_row_readable_late_below_the_cursor_comes_out(
        kobo: FakeKobo, run_for: Callable[..., Run]) -> None:
    kobo.submissions[:] = [kobo_submission(3001, submitted=kobo_time(0))]
    kobo.save_row(kobo_submission(3002, submitted=kobo_time(5)))  # attachments still saving
    kobo.submissions.append(kobo_submission(3003, submitted=kobo_time(8)))
    run = run_for("kobotoolbox", kobo_settings(kobo))
    assert run.sync() == ["3001", "3003"]
    kobo.finish(3002)
    assert run.sync() == ["3002"]
    assert run.sync() == []  # the window is read again, and nothing comes twice


def test_kobo_new_submission_with_an_old_time_above_the_cursor_comes_out(
        kobo: FakeKobo, run_for: Callable[..., Run]) -> None:
    # An import keeps the original submission time (KPI's date_created_override): a new
    # _id with a time far below the window is still read, because it is above the cursor.
    kobo.submissions[:] = [kobo_submission(3001, submitted=kobo_time(0))]
    run = run_for("kobotoolbox", kobo_settings(kobo, overlap_seconds=60))
    assert run.sync() == ["3001"]
    kobo.submissions.append(kobo_submission(3002, submitted="2019-01-01T00:00:00"))
    assert run.sync() == ["3002"]


def test_primero_late_commit_below_the_cursor_comes_out(
        primero: FakePrimero, run_for: Callable[..., Run]) -> None:
    primero.cases[:] = [primero_case(1, primero_time(0))]
    primero.save_late(primero_case(2, primero_time(5)))  # stamped, transaction still open
    primero.cases.append(primero_case(3, primero_time(8)))
    run = run_for("primero", primero_settings(primero))
    first = run.sync()
    assert len(first) == 2
    primero.commit(primero_case(2, primero_time(5))["id"])
    assert run.sync() == [primero_case(2, primero_time(5))["id"]]
    assert run.sync() == []


def test_commcare_late_index_below_the_cursor_comes_out(
        commcare: FakeCommCare, run_for: Callable[..., Run]) -> None:
    commcare.cases[:] = [commcare_case(1, commcare_time(0))]
    late = commcare_case(2, commcare_time(5))
    commcare.index_late(late)  # stamped, the index not refreshed yet
    commcare.cases.append(commcare_case(3, commcare_time(8)))
    run = run_for("commcare", commcare_settings(commcare))
    assert len(run.sync()) == 2
    commcare.refresh(late["case_id"])
    assert run.sync() == [late["case_id"]]
    assert run.sync() == []


def test_overlap_zero_reads_nothing_again(kobo: FakeKobo, run_for: Callable[..., Run]) -> None:
    kobo.submissions[:] = [kobo_submission(3001, submitted=kobo_time(0))]
    run = run_for("kobotoolbox", kobo_settings(kobo, overlap_seconds=0))
    assert run.sync() == ["3001"]
    kobo.save_row(kobo_submission(3000, submitted=kobo_time(-5)))
    kobo.finish(3000)
    assert run.sync() == []  # below the window: the price of overlap_seconds 0


# ----------------------------------------------------------------------- since, any zone


@pytest.mark.parametrize("since", ["2026-11-20T10:00:00+02:00", "2026-11-20T08:00:00Z",
                                   "2026-11-20T08:00:00", "2026-11-20T03:00:00-05:00"])
def test_kobo_since_is_compared_as_a_time(kobo: FakeKobo, run_for: Callable[..., Run],
                                          since: str) -> None:
    kobo.submissions[:] = [kobo_submission(3001, submitted=kobo_time(-1)),
                           kobo_submission(3002, submitted=kobo_time(0)),
                           kobo_submission(3003, submitted=kobo_time(1800))]
    run = run_for("kobotoolbox", kobo_settings(kobo, since=since))
    assert run.sync() == ["3002", "3003"]


def test_primero_and_commcare_since_take_any_zone(
        primero: FakePrimero, commcare: FakeCommCare, run_for: Callable[..., Run]) -> None:
    primero.cases[:] = [primero_case(1, primero_time(-1)), primero_case(2, primero_time(0))]
    commcare.cases[:] = [commcare_case(1, commcare_time(-1)), commcare_case(2, commcare_time(0))]
    since = "2026-11-20T10:00:00+02:00"
    assert run_for("primero", primero_settings(primero, since=since)).sync() == [
        primero_case(2, primero_time(0))["id"]]
    assert run_for("commcare", commcare_settings(commcare, since=since)).sync() == [
        commcare_case(2, commcare_time(0))["case_id"]]


@pytest.mark.parametrize("name", ["kobotoolbox", "primero", "commcare"])
def test_a_since_that_is_no_time_is_refused_by_name(
        name: str, kobo: FakeKobo, primero: FakePrimero, commcare: FakeCommCare,
        make_adapter: Callable[..., Any]) -> None:
    settings = {"kobotoolbox": kobo_settings(kobo), "primero": primero_settings(primero),
                "commcare": commcare_settings(commcare)}[name]
    with pytest.raises(AdapterConfigError, match=r"since: expected an ISO 8601 time.*'last week'"):
        make_adapter(name, {**settings, "since": "last week"})


# ----------------------------------------------------------------------- any interleaving

# One step of the world: a new record (readable at once, or late), an edit of a readable
# record (Primero and CommCare see edits; KPI's pull does not), a late record becoming
# readable, or a sync. The clock moves on by 1..40 s a step; a late record becomes readable
# within 300 s, inside the 900 s window the property runs with.
STEP = st.one_of(
    st.tuples(st.just("new"), st.booleans(), st.integers(1, 40)),
    st.tuples(st.just("edit"), st.integers(0, 50), st.integers(1, 40)),
    st.tuples(st.just("finish"), st.integers(0, 50), st.integers(1, 40)),
    st.tuples(st.just("sync"), st.just(False), st.integers(1, 40)),
)
LATE_AT_MOST = 300
OVERLAP = 900


class World:
    """One source, driven by steps; what it holds at the end is what the pull must give."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server: FakeServer = {"kobotoolbox": FakeKobo, "primero": FakePrimero,
                                   "commcare": FakeCommCare}[name]([])
        self.clock = 0.0
        self.late: dict[str, float] = {}  # id -> when it was written
        self.final: dict[str, dict[str, Any]] = {}
        self.count = 0
        self.edits = 0

    def settings(self) -> dict[str, Any]:
        make = {"kobotoolbox": kobo_settings, "primero": primero_settings,
                "commcare": commcare_settings}[self.name]
        return make(self.server, page_size=2, overlap_seconds=OVERLAP)  # type: ignore[operator]

    def record(self, number: int, version: int) -> tuple[str, dict[str, Any]]:
        if self.name == "kobotoolbox":
            sub = kobo_submission(3000 + number, submitted=kobo_time(self.clock))
            return str(sub["_id"]), sub
        if self.name == "primero":
            case = primero_case(number, primero_time(self.clock),
                                info_share_counterparty_id=f"office v{version}")
            return str(case["id"]), case
        cc = commcare_case(number, commcare_time(self.clock), route_id=f"MSR-{version}")
        return str(cc["case_id"]), cc

    def new(self, late: bool) -> None:
        self.count += 1
        ident, record = self.record(self.count, 0)
        self.final[ident] = record
        server = self.server
        if not late:
            self._rows().append(record)
        elif isinstance(server, FakeKobo):
            server.save_row(record)
        elif isinstance(server, FakePrimero):
            server.save_late(record)
        else:
            assert isinstance(server, FakeCommCare)
            server.index_late(record)
        if late:
            self.late[ident] = self.clock

    def edit(self, pick: int) -> None:
        readable = [i for i in self.final if i not in self.late]
        if self.name == "kobotoolbox" or not readable:
            return
        ident = readable[pick % len(readable)]
        self.edits += 1
        version = self.edits
        rows = self._rows()
        position = next(k for k, r in enumerate(rows) if self._id(r) == ident)
        _, fresh = self.record(0, version)
        updated = dict(rows[position])
        for key in ("last_updated_at", "indexed_on", "server_last_modified", "last_modified",
                    "info_share_counterparty_id"):
            if key in fresh:
                updated[key] = fresh[key]
        if "properties" in fresh:
            updated["properties"] = {**updated["properties"], "route_id": f"MSR-{version}"}
        rows[position] = updated
        self.final[ident] = updated

    def finish(self, pick: int) -> None:
        if self.late:
            self._finish(sorted(self.late)[pick % len(self.late)])

    def due(self) -> None:
        for ident, written in list(self.late.items()):
            if self.clock - written >= LATE_AT_MOST:
                self._finish(ident)

    def _finish(self, ident: str) -> None:
        del self.late[ident]
        server = self.server
        if isinstance(server, FakeKobo):
            server.finish(int(ident))
        elif isinstance(server, FakePrimero):
            server.commit(ident)
        else:
            assert isinstance(server, FakeCommCare)
            server.refresh(ident)

    def _rows(self) -> list[dict[str, Any]]:
        server = self.server
        return server.submissions if isinstance(server, FakeKobo) else server.cases  # type: ignore[attr-defined, no-any-return]

    def _id(self, row: dict[str, Any]) -> str:
        return str(row.get("_id", row.get("id", row.get("case_id"))))


@pytest.mark.parametrize("name", ["kobotoolbox", "primero", "commcare"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=24))
@example(steps=[("new", True, 1), ("new", False, 1), ("sync", False, 1), ("finish", 0, 1)])
def test_any_interleaving_gives_every_record_once_with_its_last_content(
        name: str, steps: list[tuple[str, Any, int]], tmp_path: Path,
        make_adapter: Callable[..., Any]) -> None:
    world = World(name)
    store = AdapterStore(":memory:")
    delivered: list[Event] = []
    try:
        def run_sync() -> None:
            world.due()
            report = sync(make_adapter(name, world.settings()), store, delivered.extend)
            assert report.complete, report.error

        for kind, arg, advance in steps:
            world.clock += advance
            if kind == "new":
                world.new(bool(arg))
            elif kind == "edit":
                world.edit(int(arg))
            elif kind == "finish":
                world.finish(int(arg))
            else:
                run_sync()
        world.clock += LATE_AT_MOST
        run_sync()
        adapter = make_adapter(name, world.settings())
        expected = adapter.mapping.map_batch(list(world.final.values()), source=adapter.source,
                                             system=name)
        assert not expected.rejected
        last: dict[str, str] = {}
        for event in delivered:
            fingerprint = event_fingerprint(event)
            assert last.get(event.subject or "") != fingerprint, \
                f"{event.subject} came out twice with the same content"
            last[event.subject or ""] = fingerprint
        assert last == {e.subject: event_fingerprint(e) for e in expected.events}
        if name == "kobotoolbox":  # no edits: each record exactly once
            assert len(delivered) == len(world.final)
    finally:
        store.close()
        world.server.stop()
