"""A connection's identity (its events' `source`, the key of its state) survives a change of
the server's address: a `source` setting pins it, and without one the state kept under the
old address (cursor, seen and rejected records, outbox rows) moves to the new one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mandate_rules import Event
from mandate_rules._adapters import AdapterConfigError, AdapterStore, Outbox, sync
from mandate_rules._cli import main
from mandate_rules._database import parse_target
from mandate_rules.adapters.testing import FakeKobo, Reply, kobo_submission, sample_advisory

from .conftest import ENV, commcare_settings, kobo_settings, primero_settings


def _records(kobo: FakeKobo) -> None:
    kobo.submissions[:] = [kobo_submission(3001), kobo_submission(3002)]


def test_the_source_setting_names_the_events(kobo: FakeKobo,
                                             make_adapter: Callable[..., Any]) -> None:
    _records(kobo)
    adapter = make_adapter("kobotoolbox", kobo_settings(
        kobo, source="kobotoolbox://kobo-somalia/assets/escorts"))
    assert adapter.source == "kobotoolbox://kobo-somalia/assets/escorts"
    events = [e for e in adapter.pull(None).events]
    assert events
    assert {e.source for e in events} == {"kobotoolbox://kobo-somalia/assets/escorts"}


@pytest.mark.parametrize("name", ["kobotoolbox", "primero", "commcare"])
def test_a_source_that_is_no_uri_is_refused_by_name(name: str, kobo: FakeKobo,
                                                    make_adapter: Callable[..., Any],
                                                    primero: Any, commcare: Any) -> None:
    settings = {"kobotoolbox": kobo_settings(kobo), "primero": primero_settings(primero),
                "commcare": commcare_settings(commcare)}[name]
    with pytest.raises(AdapterConfigError, match=r"source: expected a URI .*'kobo somalia'"):
        make_adapter(name, {**settings, "source": "kobo somalia"})


def test_a_new_address_keeps_the_cursor_seen_rejected_and_outbox(
        kobo: FakeKobo, moved_kobo: FakeKobo, make_adapter: Callable[..., Any],
        db_url: str) -> None:
    _records(kobo)
    kobo.submissions.append({**kobo_submission(3003), "request_type": "unknown"})
    store = AdapterStore(parse_target(db_url))
    outbox = Outbox(store.conn)
    got: list[Event] = []
    old = make_adapter("kobotoolbox", kobo_settings(kobo))
    assert sync(old, store, got.extend).complete
    assert [e.subject for e in got] == ["3001", "3002"]
    # An advisory waits in the outbox: the old address failed to take it.
    kobo.fail(Reply.json(503, {"detail": "down"}), when=lambda s: s.method == "PATCH", times=4)
    outbox.enqueue(sample_advisory(got[0]))
    assert outbox.deliver_due(lambda s: old if s == old.source else None,
                              all_pending=True).failed == 1

    new = make_adapter("kobotoolbox", kobo_settings(moved_kobo))
    assert new.source != old.source
    report = sync(new, store, got.extend)
    assert report.complete
    assert report.moved.before == old.source
    assert [e.subject for e in got] == ["3001", "3002"]  # nothing taken twice
    assert report.progress.unchanged >= 2
    assert store.cursor("kobotoolbox", new.source) is not None
    assert store.cursor("kobotoolbox", old.source) is None
    assert [r.record_id for r in store.rejected(new.source)] == ["3003"]
    assert store.rejected(old.source) == []
    done = outbox.deliver_due(lambda s: new if s == new.source else None, all_pending=True)
    assert done.written == 1
    assert moved_kobo.statuses == {"3001": "validation_status_on_hold"}
    moved_kobo.submissions.append(kobo_submission(3004))
    assert sync(new, store, got.extend).complete
    assert [e.subject for e in got] == ["3001", "3002", "3004"]
    store.close()


def test_state_from_before_the_source_left_the_hash_is_still_seen(
        kobo: FakeKobo, make_adapter: Callable[..., Any], db_url: str) -> None:
    _records(kobo)
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    store = AdapterStore(parse_target(db_url))
    events = list(adapter.pull(None).events)
    for event in events:  # rows as the earlier release wrote them: the source in the hash
        body = event.to_json()
        content = {k: body.get(k) for k in ("type", "source", "subject", "country", "area",
                                            "data")}
        legacy = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False,
                                           separators=(",", ":")).encode()).hexdigest()
        store.conn.execute("INSERT INTO adapter_seen VALUES (?, ?, ?, ?, 0)",
                           (event.source, event.subject, legacy, event.id))
    got: list[Event] = []
    assert sync(adapter, store, got.extend, full=True).complete
    assert got == []
    store.close()


def test_several_earlier_addresses_are_not_guessed_between(
        kobo: FakeKobo, make_adapter: Callable[..., Any], db_url: str) -> None:
    _records(kobo)
    store = AdapterStore(parse_target(db_url))
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    path = adapter.source.split("/", 3)[3]
    earlier = [f"kobotoolbox://kobo-{n}.example.org/{path}" for n in (1, 2)]
    for source in earlier:
        store.save_cursor("kobotoolbox", source, json.dumps({"last_id": 3002}))
    got: list[Event] = []
    report = sync(adapter, store, got.extend)
    assert report.moved.before is None
    assert report.moved.ambiguous == tuple(earlier)
    assert [e.subject for e in got] == ["3001", "3002"]  # read as a new connection
    assert all(store.cursor("kobotoolbox", s) is not None for s in earlier)  # left as it was
    store.close()


def test_setting_a_source_adopts_the_state_and_the_cli_says_so(
        kobo: FakeKobo, moved_kobo: FakeKobo, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    _records(kobo)
    config = tmp_path / "kobo.yaml"
    config.write_text(json.dumps({"adapter": "kobotoolbox", **kobo_settings(kobo)}))
    first = CliRunner().invoke(main, ["sync", "kobotoolbox", "--config", str(config),
                                      "--evaluate", "--quiet"])
    assert first.exit_code == 0, first.stderr
    assert first.stdout
    # The server moved; the connection gets a name that no longer follows the address.
    config.write_text(json.dumps({"adapter": "kobotoolbox", **kobo_settings(
        moved_kobo, source="kobotoolbox://kobo-somalia/assets/aEscReq2026SOM")}))
    look = CliRunner().invoke(main, ["sync", "kobotoolbox", "--config", str(config)])
    assert "a run with --evaluate moves it" in look.stderr
    second = CliRunner().invoke(main, ["sync", "kobotoolbox", "--config", str(config),
                                       "--evaluate"])
    assert second.exit_code == 0, second.stderr
    assert second.stdout == ""
    assert "now belongs to kobotoolbox://kobo-somalia/assets/aEscReq2026SOM" in second.stderr
