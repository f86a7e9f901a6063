"""A contract test suite that any adapter, bundled or third-party, runs against itself.

Subclass `AdapterContract` in a test module and provide three fixtures::

    from mandate_rules.adapters.testing import AdapterContract

    class TestMyAdapter(AdapterContract):
        @pytest.fixture
        def adapter(self, my_fake_server):      # pointed at a test server (loopback only)
            return MyAdapter.from_config({...}, base_dir=..., env={...})

        @pytest.fixture
        def push_payloads(self):                # bodies the source pushes, one record or more
            return [(b'{...}', {"Content-Type": "application/json"})]

        @pytest.fixture
        def written(self, my_fake_server):      # copies of the advisory on its record
            return lambda advisory: my_fake_server.copies_of(advisory)

The suite checks what every adapter promises: a registered name, a source URI, pushed
payloads that become valid events (the same ids when delivered again), foreign payloads
refused with `PayloadError`, a pull that pages to the end without repeating an event and
resumes from any cursor, and a write-back that writes one advisory once however often it is
called. It needs pytest (a test dependency, not a runtime one); the rest of the kit does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import pytest

from ..._models import Advisory, Event
from ..contract import Adapter, Batch, WriteResult
from ..errors import PayloadError
from ..registry import available_adapters
from .support import pull_all, sample_advisory

__all__ = ["AdapterContract"]

def _ids(pages: Sequence[Batch]) -> list[str]:
    return [e.id for page in pages for e in page.events]


class AdapterContract:
    """The contract tests; see the module docstring for the fixtures to provide."""

    @pytest.fixture
    def adapter(self) -> Adapter:
        raise NotImplementedError("provide an `adapter` fixture")

    @pytest.fixture
    def push_payloads(self) -> list[tuple[bytes, Mapping[str, str]]]:
        raise NotImplementedError("provide a `push_payloads` fixture")

    @pytest.fixture
    def written(self) -> Callable[[Advisory], int]:
        raise NotImplementedError("provide a `written` fixture")

    def test_name_is_registered(self, adapter: Adapter) -> None:
        assert re.fullmatch(r"[a-z][a-z0-9_-]*", adapter.name), adapter.name
        entry = available_adapters().get(adapter.name)
        assert entry is not None, f"no entry point {adapter.name!r} in mandate_rules.adapters"
        assert entry.load() is type(adapter)

    def test_source_is_a_uri(self, adapter: Adapter) -> None:
        assert re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", adapter.source), adapter.source

    def test_pushed_payloads_become_valid_events(
            self, adapter: Adapter, push_payloads: list[tuple[bytes, Mapping[str, str]]]) -> None:
        assert push_payloads, "give at least one payload the source pushes"
        for body, headers in push_payloads:
            batch = adapter.parse(body, headers)
            assert isinstance(batch, Batch)
            assert batch.records >= 1, "a pushed record must be accounted for"
            for event in batch.events:
                assert Event.from_json(event.to_json()) == event
                assert event.source == adapter.source
                assert event.subject, "an event must name its record (subject)"

    def test_redelivered_payload_gives_the_same_events(
            self, adapter: Adapter, push_payloads: list[tuple[bytes, Mapping[str, str]]]) -> None:
        for body, headers in push_payloads:
            first, again = adapter.parse(body, headers), adapter.parse(body, headers)
            assert [e.to_json() for e in first.events] == [e.to_json() for e in again.events]

    @pytest.mark.parametrize("body", [b"not json", b'"a string"', b"[1, 2]", b"\xff\xfe"])
    def test_foreign_payloads_are_refused(self, adapter: Adapter, body: bytes) -> None:
        with pytest.raises(PayloadError):
            adapter.parse(body, {"Content-Type": "application/json"})

    def test_pull_pages_to_the_end_without_repeats(self, adapter: Adapter) -> None:
        pages = pull_all(adapter)
        ids = _ids(pages)
        assert ids, "the test server should hold records that map to events"
        assert len(ids) == len(set(ids)), "an event came twice in one pull"
        assert all(p.cursor is None or isinstance(p.cursor, str) for p in pages)

    def test_pull_resumes_from_any_cursor(self, adapter: Adapter) -> None:
        pages = pull_all(adapter)
        full = set(_ids(pages))
        for index, page in enumerate(pages[:-1]):
            seen = set(_ids(pages[: index + 1]))
            rest = set(_ids(pull_all(adapter, page.cursor)))
            assert full <= seen | rest, f"resuming after page {index + 1} missed events"

    def test_write_back_writes_once(self, adapter: Adapter,
                                    written: Callable[[Advisory], int]) -> None:
        event = next(e for page in pull_all(adapter) for e in page.events)
        advisory = sample_advisory(event)
        results = [adapter.write_back(advisory), adapter.write_back(advisory)]
        assert all(isinstance(r, WriteResult) and r.target for r in results)
        assert written(advisory) == 1

