"""The adapter contract: what every source-system adapter is, and what it hands back.

An adapter turns one source system's records into `Event`s and writes `Advisory`s back to
it. It knows the event and advisory models and this contract, nothing else: no engine, no
store, no web framework. Four things make an adapter:

* `from_config(config, base_dir=..., env=...)` builds one from a deployment's settings
  (credentials are read from the environment variables the settings name);
* `parse(body, headers)` reads a payload the source pushed (a webhook, a REST service call,
  a forwarded case) and returns a `Batch`, without touching the network;
* `pull(cursor)` reads the next page of records changed since `cursor` and returns a
  `Pulled` batch with the cursor to resume from (`rewind(cursor)`, optional, moves a saved
  cursor back by an overlap window at the start of a run);
* `write_back(advisory)` puts an advisory on the record it is about, idempotently.

A record that cannot be mapped is never dropped: it comes back in `Batch.rejected` with the
reason, for the caller to store and show. A record the mapping deliberately skips (our own
advisory cases, other case types) comes back in `Batch.ignored`, counted, with the reason.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import attrs

from .._content import freeze, thaw
from .._models import Advisory, Event

__all__ = ["Adapter", "Batch", "Ignored", "Pulled", "Rejected", "WriteResult",
           "advisory_marker", "advisory_text"]


def advisory_marker(advisory: Advisory) -> str:
    """A short tag that names the advisory in what we write, so a write can be recognised
    (and not repeated) when the source shows it back to us."""
    return f"[mandate-rules {advisory.id[:16]}]"


def advisory_text(advisory: Advisory, *, limit: int = 1000) -> str:
    """The advisory in plain text for a flag, a note or a field, its marker first."""
    lines = [f"{advisory_marker(advisory)} {advisory.rule_id} ({advisory.severity.value}): "
             f"{advisory.title}", advisory.advice.strip()]
    lines += [f"- {action}" for action in advisory.actions]
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class Rejected:
    """A record that could not become an event, kept with the reason (never dropped)."""

    source: str
    record_id: str | None
    reason: str
    record: Mapping[str, Any] = attrs.field(factory=dict, converter=freeze)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "record_id": self.record_id, "reason": self.reason,
                "record": thaw(self.record)}


@attrs.frozen
class Ignored:
    """A record or payload the mapping or the adapter skips on purpose, and why."""

    record_id: str | None
    reason: str


@attrs.frozen
class Batch:
    """What one payload or one page gave: events, records that failed, records skipped."""

    events: tuple[Event, ...] = attrs.field(default=(), converter=_tuple)
    rejected: tuple[Rejected, ...] = attrs.field(default=(), converter=_tuple)
    ignored: tuple[Ignored, ...] = attrs.field(default=(), converter=_tuple)

    @property
    def records(self) -> int:
        """How many records this batch accounts for (every one lands in exactly one list)."""
        return len(self.events) + len(self.rejected) + len(self.ignored)


@attrs.frozen
class Pulled(Batch):
    """One page of a pull: the batch, the cursor after it, and whether more pages follow.

    `cursor` is opaque text the adapter reads back on the next call (None: start over).
    """

    cursor: str | None = None
    more: bool = False


@attrs.frozen
class WriteResult:
    """Where an advisory was written: `target` in words, the source's id for what we wrote,
    and `existing` when the advisory was already there (nothing was written again)."""

    target: str
    remote_id: str | None = None
    existing: bool = False


class Adapter(abc.ABC):
    """One configured connection to a source system. Subclass it and register the class under
    the entry-point group ``mandate_rules.adapters``; `name` must equal the entry-point name."""

    #: The adapter's registered name, e.g. ``kobotoolbox``.
    name: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: Mapping[str, Any], *, base_dir: Path,
                    env: Mapping[str, str]) -> Adapter:
        """Build an adapter from a deployment's settings.

        `base_dir` resolves relative paths in `config` (the mapping file); `env` holds the
        credentials named in `config`. Raise `AdapterConfigError` for anything missing.
        """

    @property
    @abc.abstractmethod
    def source(self) -> str:
        """The CloudEvents `source` of the events this adapter makes (one record set)."""

    @abc.abstractmethod
    def parse(self, body: bytes, headers: Mapping[str, str]) -> Batch:
        """Read one pushed payload. Raise `PayloadError` if it is not one the source sends."""

    @abc.abstractmethod
    def pull(self, cursor: str | None) -> Pulled:
        """The next page of records changed after `cursor` (None: from the beginning)."""

    @abc.abstractmethod
    def write_back(self, advisory: Advisory) -> WriteResult:
        """Put `advisory` on its record; calling it twice for one advisory writes it once."""

    def remap(self, record: Mapping[str, Any]) -> Batch | None:
        """`record` (one kept as rejected) mapped again with the current mapping, or None
        when this adapter cannot (the default). Each run retries the rejected records this
        way, so fixing a mapping brings them back without re-reading the source."""
        return None

    def rewind(self, cursor: str) -> str:
        """The cursor a new run starts from, given the one the last run saved (default: the
        same).

        A source can make a record readable *below* the cursor after a later one was read (a
        row committed late, an index filled asynchronously). An adapter of such a source
        moves the cursor back by an overlap window here, so each run re-reads the window;
        what was already seen comes out as unchanged (the store compares content), so the
        overlap costs reads, never repeated events. The cursor it returns must still lead to
        the end of the records, and the cursors of the following pages must not fall below
        the one given.
        """
        return cursor

    @property
    def push_secret(self) -> str | None:
        """The shared secret a push to this adapter must carry (None: the source cannot send
        one). Read from the environment variable the configuration names."""
        return None

    def close(self) -> None:  # noqa: B027 - a hook with nothing to do by default
        """Release connections."""

    def __enter__(self) -> Adapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
