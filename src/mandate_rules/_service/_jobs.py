"""The engine thread's jobs: what a request asks of it (submit events, preview one, resolve an
advisory, move the clocks, install rule packs), and what a submitted event gets back."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future
from typing import Any

import attrs

from .._models import Event, RulesVersion
from .._rules import Bundle
from ._rows import json_text

# The source of the ticks the service applies itself; clients may not use it.
CLOCK_SOURCE = "mandate-rules://sidecar/clock"


@attrs.frozen
class ItemResult:
    """What one submitted event got: its advisories, and whether it had been seen before.

    Each advisory is held as the JSON text the store keeps, encoded once: the response is
    spliced together from those texts rather than encoded again.
    """

    event: dict[str, str]
    duplicate: bool
    rules_version: RulesVersion
    advisory_texts: tuple[str, ...]

    @property
    def advisories(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.advisory_texts]

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "duplicate": self.duplicate,
                "rules_version": self.rules_version.to_json(), "advisories": self.advisories}

    def json_text(self) -> str:
        """`to_json()` encoded by `json_text`, without decoding and encoding the advisories."""
        head = json_text({"event": self.event, "duplicate": self.duplicate,
                          "rules_version": self.rules_version.to_json()})
        return f'{head[:-1]},"advisories":[{",".join(self.advisory_texts)}]}}'


@attrs.define(kw_only=True)
class Job:
    future: Future[Any] = attrs.field(factory=Future, init=False)


@attrs.define(kw_only=True)
class Submit(Job):
    tenant: str
    events: tuple[Event, ...]
    batch: bool


@attrs.define(kw_only=True)
class Preview(Job):
    tenant: str
    event: Event


@attrs.define(kw_only=True)
class Resolve(Job):
    tenant: str
    advisory_id: str
    decision: str
    text: str | None
    by: str


@attrs.define(kw_only=True)
class Tick(Job):
    now: dt.datetime


@attrs.define(kw_only=True)
class Claim(Job):
    """Take over these operations (tenant, country), whose holder let them go or died."""

    operations: tuple[tuple[str, str], ...]


@attrs.define(kw_only=True)
class Install(Job):
    live: Bundle
    shadow: Bundle | None
    startup: bool = False


@attrs.define(kw_only=True)
class Stop(Job):
    """Tells the engine thread to finish the jobs before it and stop."""

