"""The write-back outbox: queued once, retried until the source takes it, written once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import (
    Adapter,
    Batch,
    Outbox,
    Pulled,
    SourceAuthError,
    SourceUnavailableError,
    WriteResult,
)
from mandate_rules._adapters.testing import sample_advisory

from .helpers_local import event_for


class _Flaky(Adapter):
    name = "flaky"

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.writes: list[str] = []

    @classmethod
    def from_config(cls, config: Any, *, base_dir: Path, env: Any) -> Adapter:
        raise NotImplementedError

    @property
    def source(self) -> str:
        return "test://flaky"

    def parse(self, body: bytes, headers: Any) -> Batch:
        return Batch()

    def pull(self, cursor: str | None) -> Pulled:
        return Pulled()

    def write_back(self, advisory: Advisory) -> WriteResult:
        if self.failures:
            raise self.failures.pop(0)
        self.writes.append(advisory.id)
        return WriteResult("test record", remote_id="r1")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: _Clock) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", base_delay=10, max_delay=100, clock=clock)


def _advisory() -> Advisory:
    return sample_advisory(event_for("test://flaky"))


def test_enqueue_is_idempotent(outbox: Outbox) -> None:
    advisory = _advisory()
    assert outbox.enqueue(advisory) is True
    assert outbox.enqueue(advisory) is False
    assert len(outbox.rows()) == 1


def test_retried_until_written_then_never_again(outbox: Outbox, clock: _Clock) -> None:
    adapter = _Flaky([SourceUnavailableError("down", status=503),
                      SourceAuthError("401 Unauthorized", status=401)])
    advisory = _advisory()
    outbox.enqueue(advisory)
    resolve: Callable[[str], Adapter | None] = lambda source: adapter  # noqa: E731
    assert outbox.deliver_due(resolve).failed == 1
    assert outbox.deliver_due(resolve).failed == 0  # not due yet: 10 s later
    clock.now += 10
    report = outbox.deliver_due(resolve)
    assert report.failed == 1
    assert "401" in (outbox.rows()[0].last_error or "")
    clock.now += 19
    assert outbox.deliver_due(resolve).written == 0  # the delay doubled to 20 s
    clock.now += 1
    assert outbox.deliver_due(resolve).written == 1
    clock.now += 1000
    outbox.enqueue(advisory)
    assert outbox.deliver_due(resolve).written == 0
    assert adapter.writes == [advisory.id]
    (row,) = outbox.rows()
    assert (row.status, row.attempts, row.remote_id) == ("done", 3, "r1")


def test_retry_after_from_the_source_sets_the_next_attempt(outbox: Outbox,
                                                           clock: _Clock) -> None:
    adapter = _Flaky([SourceUnavailableError("slow down", status=429, retry_after=60)])
    outbox.enqueue(_advisory())
    outbox.deliver_due(lambda source: adapter)
    assert outbox.next_due() == pytest.approx(clock.now + 60)


def test_no_adapter_for_the_source_keeps_it_queued(outbox: Outbox) -> None:
    outbox.enqueue(_advisory())
    report = outbox.deliver_due(lambda source: None)
    assert report.failed == 1
    assert report.pending == 1
    assert "no adapter is configured for test://flaky" in (outbox.rows()[0].last_error or "")


def test_a_leased_row_is_not_written_by_a_second_deliverer(tmp_path: Path,
                                                           clock: _Clock) -> None:
    first = Outbox(tmp_path / "o.sqlite", clock=clock)
    second = Outbox(tmp_path / "o.sqlite", clock=clock)
    advisory = _advisory()
    first.enqueue(advisory)
    adapter = _Flaky([])

    def write_while_other_delivers(source: str) -> Adapter:
        assert second.deliver_due(lambda s: adapter).written == 0  # leased by `first`
        return adapter

    assert first.deliver_due(write_while_other_delivers).written == 1
    assert adapter.writes == [advisory.id]
