"""The backtest behind `mandate-rules diff`: a log of events run through the live rule packs and
a candidate side by side, in event time, and what the candidate would have changed.

The events come as JSON lines: CloudEvents, or the lines of the sidecar's decision-log export
(`GET /v1/decisions/export`), whose evaluations carry the event or clock tick they evaluated
(`cloudevent`) and whose re-deliveries are skipped, as the engines would skip them.

Time is the events' own: before an event, each engine's clock is moved to its time by a
clock tick (when a deadline is running), so that a deadline that passed in between fires on
its own, as the sidecar's ticks make it fire, and not with the event; after the last event,
every operation's clock is moved to the end of the log (or to `until`). What each pair of
evaluations raised is compared by `_compare`, the comparison of the sidecar's shadow mode.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from ._compare import Change, Compared, compare, tally
from ._engine import Engine
from ._errors import EventValidationError, MandateRulesError, ProblemsError
from ._models import Advisory, Event, EventRef, RulesVersion, format_time
from ._problems import Problem

TICK = "clock.tick"
# The source of the ticks the backtest applies itself (`Engine.advance` names its own).
TICK_SOURCE = "mandate-rules://clock"
# A decision-log export line is told from a CloudEvent by these keys.
_DECISION_KEYS = frozenset({"seq", "outcome", "event"})


class EventsFileError(ProblemsError):
    """Raised when lines of an events file cannot be run: each problem names the file and
    line, with a stable code (`invalid-json`, `invalid-event`, `decision-without-event`,
    `engine-refused`); nothing is compared when any line is bad."""

    found_in = "the events file"


@attrs.frozen
class Line:
    """One event of the input, or one clock tick of a decision-log export, and its line."""

    number: int
    event: Event


@attrs.frozen
class Events:
    """What an events file holds: the events in order, and the re-deliveries it skipped."""

    name: str
    lines: tuple[Line, ...]
    redeliveries: int = 0


@attrs.frozen
class Found:
    """One change, with what is behind it: the evaluation that made it (an event of the input
    at `line`, or a tick the backtest applied, `line` None), the advisory concerned (the
    candidate's, or the live one's when the candidate dropped it) and the input line of each
    event of its evidence (None for one the input does not hold)."""

    change: Change
    evaluated: EventRef
    line: int | None
    advisory: Advisory
    evidence_lines: tuple[int | None, ...]

    def to_json(self) -> dict[str, Any]:
        """The change as the shadow diff gives it, with the event evaluated, and the
        advisory's record, time and evidence."""
        return {**self.change.to_json(),
                "event": {**self.evaluated.to_json(), "line": self.line},
                "subject": self.advisory.subject,
                "raised_at": format_time(self.advisory.raised_at),
                "evidence": [{**ref.to_json(), "line": line} for ref, line
                             in zip(self.advisory.evidence, self.evidence_lines, strict=True)]}


@attrs.frozen
class Backtest:
    """What the candidate would have changed over one log of events."""

    name: str
    live: RulesVersion
    candidate: RulesVersion
    events: int  # events (and ticks) of the input, each evaluated by both
    ticks: int  # clock ticks the backtest applied between and after them
    redeliveries: int  # decision-log re-deliveries skipped
    start: dt.datetime | None
    end: dt.datetime | None
    changes: tuple[Found, ...]

    @property
    def summary(self) -> dict[str, dict[str, int]]:
        """Changes per rule and kind (`raise`, `drop`, `severity`), in rule order."""
        counted = tally(found.change for found in self.changes)
        return {rule: counted[rule] for rule in sorted(counted)}

    def to_json(self) -> dict[str, Any]:
        return {"file": self.name, "live": self.live.to_json(),
                "candidate": self.candidate.to_json(), "events_compared": self.events,
                "ticks": self.ticks, "redeliveries_skipped": self.redeliveries,
                "from": format_time(self.start) if self.start else None,
                "to": format_time(self.end) if self.end else None,
                "summary": self.summary,
                "changes": [found.to_json() for found in self.changes]}


def read_events(stream: Iterable[str], name: str) -> Events:
    """Every event of `stream` (JSON lines), or `EventsFileError` naming every bad line."""
    lines: list[Line] = []
    problems: list[Problem] = []
    redeliveries = 0
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(name, number, "invalid-json",
                                    f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        stored = isinstance(obj, dict) and obj.keys() >= _DECISION_KEYS
        if stored:
            if obj["outcome"] == "duplicate":
                redeliveries += 1
                continue
            if "cloudevent" not in obj:
                problems.append(Problem(
                    name, number, "decision-without-event",
                    f"expected the evaluated event in 'cloudevent' on a decision-log line "
                    f"(outcome {obj['outcome']!r}), got none: export the log again with this "
                    "version's sidecar, whose export carries it"))
                continue
            obj = obj["cloudevent"]
        try:
            # An export's events were checked when the sidecar took them (see Event.from_json).
            lines.append(Line(number, Event.from_json(obj, stored=stored)))
        except EventValidationError as exc:
            problems.append(Problem(name, number, "invalid-event", str(exc)))
    if problems:
        raise EventsFileError(problems)
    return Events(name, tuple(lines), redeliveries)


def backtest(live: Engine, candidate: Engine, events: Events,
             until: dt.datetime | None = None) -> Backtest:
    """Run `events` through both engines in event time and compare what each raised.

    The engines are used as they are (a new engine starts from no state). Raises
    `EventsFileError` when either refuses an event, naming its line.
    """
    run = _Run(live, candidate, events.name)
    for line in events.lines:
        event = line.event
        run.lines.setdefault(event.key, line.number)
        if event.type == TICK:  # one of the sidecar's ticks, from its log
            run.input_tick(line)
            continue
        run.tick(event.country, event.time, line.number)
        run.both(event.ref(), line.number, line.number,
                 functools.partial(Engine.evaluate, event=event))
        run.clocks[event.country] = max(run.clocks.get(event.country, event.time), event.time)
    times = [line.event.time for line in events.lines]
    end = max([*times, *([until] if until is not None else [])], default=None)
    if end is not None:
        last = events.lines[-1].number if events.lines else 0
        for country in sorted(run.clocks):
            run.tick(country, end, last)
    return Backtest(events.name, live.bundle.version, candidate.bundle.version,
                    len(events.lines), run.ticks, events.redeliveries,
                    min(times, default=None), end, tuple(run.found))


class _Run:
    """The state of one backtest: each operation's clock, the input line of each event seen,
    and the changes found so far."""

    def __init__(self, live: Engine, candidate: Engine, name: str) -> None:
        self.live, self.candidate, self.name = live, candidate, name
        self.clocks: dict[str, dt.datetime] = {}
        self.lines: dict[tuple[str, str], int] = {}
        self.ticks = 0
        self.found: list[Found] = []

    def _passed(self, country: str, when: dt.datetime) -> bool:
        clock = self.clocks.get(country)
        return clock is not None and when <= clock

    def tick(self, country: str, when: dt.datetime, at: int) -> None:
        """Move `country`'s clock to `when` as the sidecar's ticks do: forward only, and only
        while a deadline runs. `at`: the input line it comes before (or after, at the end)."""
        if self._passed(country, when) or not any(
                engine.state_size().get("pending_deadlines", 0)
                for engine in (self.live, self.candidate)):
            return
        self.ticks += 1
        self.clocks[country] = when
        ref = EventRef(source=TICK_SOURCE, id=f"tick-{country}-{format_time(when)}",
                       type=TICK, time=when)
        self.both(ref, None, at, lambda engine: engine.advance(country, when))

    def input_tick(self, line: Line) -> None:
        """Apply a tick of the input (the sidecar applied it), unless the clock is past it."""
        event = line.event
        if self._passed(event.country, event.time):
            return
        self.clocks[event.country] = event.time
        self.both(event.ref(), line.number, line.number,
                  lambda engine: engine.advance(event.country, event.time))

    def both(self, ref: EventRef, line: int | None, at: int,
             call: Callable[[Engine], tuple[Advisory, ...]]) -> None:
        """`call` on each engine; what differs is noted against the evaluation `ref` (an
        input line, or None for a tick of the backtest's; `at`: the line an error names)."""
        out: list[tuple[Advisory, ...]] = []
        for side, engine in (("live", self.live), ("candidate", self.candidate)):
            try:
                out.append(call(engine))
            except MandateRulesError as exc:
                raise EventsFileError([Problem(
                    self.name, at, "engine-refused",
                    f"the {side} rules could not evaluate {ref.type} {ref.id!r}: {exc}")]) \
                    from exc
        live, candidate = out
        by_id = {a.id: a for a in (*live, *candidate)}
        for change in compare([Compared.of(a) for a in live],
                              [Compared.of(a) for a in candidate]):
            shown = change.candidate or change.live
            assert shown is not None
            advisory = by_id[shown.id]
            self.found.append(Found(change, ref, line, advisory, tuple(
                self.lines.get((e.source, e.id)) for e in advisory.evidence)))
