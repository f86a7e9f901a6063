"""One scenario's story: its clock, its operation, its events, and what the When steps raised.

`Story` holds what the sentences of one scenario have said so far and carries them out on an
`Engine` of its own, built on the first event or time step from the bundle loaded once per
session (with the scenario's context profile on top of the shipped one, when the scenario
says anything about the context). The Then checks are methods here too; they raise
`ExpectationNotMet` with a message that lists what was raised.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._content import thaw
from .._context import ContextProfile, deep_merge
from .._engine import Engine
from .._errors import EventValidationError
from .._models import MAX_YEAR, MIN_YEAR, Advisory, Event, Severity, format_time
from .._problems import did_you_mean
from .._rules import Bundle
from .._schema import load_schema, parse_time
from .enginepool import EnginePool
from .errors import ExpectationNotMet, SpecError
from .phrasebook import EVENT_KINDS, split_rule_list
from .tables import YEARS, Row, read_table, shifted

__all__ = ["NO_PROFILE_COUNTRY", "START", "Raised", "Story"]

START = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
# The operation of a scenario that names none: a user-assigned ISO code no profile uses.
NO_PROFILE_COUNTRY = "XXX"
SOURCE = "mandate-rules://spec"
DEFAULT_ORG = ("org-1", "ingo")

_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")
_RULE_ID_RE = re.compile(r"^[A-Z]{3}-\d{3}$")
_SEVERITIES = tuple(s.value for s in Severity)
_NO_DATA = ("clock.tick", "context.update")


@attrs.frozen
class Raised:
    """An advisory and the step that raised it."""

    advisory: Advisory
    line: int | None
    what: str

    def describe(self) -> str:
        a = self.advisory
        unknown = ", context unknown" if not a.context_known else ""
        at = f" on line {self.line}" if self.line is not None else ""
        return f"{a.rule_id} as {a.severity.value}{unknown}: {a.title} (from {self.what}{at})"


class Story:
    """The state of one scenario, changed by its sentences in order."""

    def __init__(self, bundle: Bundle, rules_label: str,
                 engines: EnginePool | None = None) -> None:
        self.bundle = bundle
        self._engines = engines if engines is not None else EnginePool()
        self.rules_label = rules_label
        self.now = START
        self.country = NO_PROFILE_COUNTRY
        self.area: str | None = None
        self.org_id, self.org_kind = DEFAULT_ORG
        self._overrides: dict[str, Any] = {}
        self._area_overrides: dict[str, dict[str, Any]] = {}
        self._alternatives: list[dict[str, Any]] = []
        self._versions: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._engine: Engine | None = None
        self._profile: ContextProfile | None = None
        self._started_by: int | None = None
        self.history: list[Raised] = []
        self._pending: list[Raised] = []
        self._pending_lines: list[int] = []
        self._when_since_then = False
        self._checked: list[Raised] | None = None
        self._checked_lines: list[int] = []

    # ------------------------------------------------------------------ the operation

    def set_operation(self, country: str, line: int | None) -> None:
        self._before_first_event(line)
        if not _COUNTRY_RE.match(country):
            raise SpecError(f"'{country}' is not a country code: write the operation's country "
                            "as its three-letter ISO code, e.g. SOM or PHL")
        self.country = country

    def no_profile(self, line: int | None) -> None:
        self._before_first_event(line)
        self.country = NO_PROFILE_COUNTRY
        self._overrides.clear()
        self._area_overrides.clear()
        self._alternatives.clear()

    def add_context(self, values: Mapping[str, Any], line: int | None) -> None:
        self._before_first_event(line)
        deep_merge(self._overrides, values)

    def add_area_context(self, area: str, values: Mapping[str, Any], line: int | None) -> None:
        self._before_first_event(line)
        deep_merge(self._area_overrides.setdefault(area, {}), values)

    def add_alternative(self, item: Mapping[str, Any], line: int | None) -> None:
        self._before_first_event(line)
        if not item:
            raise SpecError("the civilian alternative has no fields; give at least its mode, "
                            "provider and routes")
        self._alternatives.append(dict(item))

    def set_area(self, area: str) -> None:
        self.area = area

    def set_organisation(self, org_id: str, kind: str) -> None:
        actors = load_schema().actors
        if kind not in actors:
            close = did_you_mean(kind, actors)
            hint = f"; did you mean '{close}'?" if close else ""
            raise SpecError(f"'{kind}' is not a kind of organisation{hint}\nThe kinds are: "
                            + ", ".join(sorted(actors)))
        self.org_id, self.org_kind = org_id, kind

    def profile(self) -> ContextProfile | None:
        """The scenario's profile, or None when the scenario said nothing about the context."""
        if not (self._overrides or self._area_overrides or self._alternatives):
            return None
        base = self.bundle.contexts.get(self.country)
        values: dict[str, Any] = thaw(base.values) if base is not None else {}
        areas: dict[str, Any] = thaw(base.areas) if base is not None else {}
        deep_merge(values, self._overrides)
        if self._alternatives:
            values["civilian_alternatives"] = [*values.get("civilian_alternatives", []),
                                               *self._alternatives]
        for area, extra in self._area_overrides.items():
            deep_merge(areas.setdefault(area, {}), extra)
        version = f"{base.version}+scenario" if base is not None else "scenario"
        name = base.name if base is not None else ""
        return ContextProfile(country=self.country, version=version, name=name, values=values,
                              areas=areas, known=True)

    def _before_first_event(self, line: int | None) -> None:
        if self._engine is not None:
            started = f" (line {self._started_by})" if self._started_by is not None else ""
            at = f" on line {line}" if line is not None else ""
            raise SpecError(
                f"the operation and its context must be set before the first event or time "
                f"step{started}, but this sentence{at} comes after it.\nMove it up; to change "
                "the context during the story, record a context update (`When a context "
                "update is recorded:`).")

    def engine(self, line: int | None) -> Engine:
        if self._engine is None:
            self._profile = self.profile()
            self._engine = self._engines.take(self.bundle, self._profile)
            self._started_by = line
        return self._engine

    def close(self) -> None:
        """Give the engine back to the pool (the scenario is over)."""
        if self._engine is not None:
            self._engines.give_back(self.bundle, self._profile, self._engine)
            self._engine = None

    # ------------------------------------------------------------------ events and time

    def record(self, kind: str, name: str | None, rows: Sequence[Row], *, acting: bool,
               line: int | None, subject_only: bool = False) -> Event:
        """Record an event of `kind`, the record `name` (a new one when None).

        With `subject_only` the record's id goes only in the CloudEvents `subject`, with no
        `data.entity_id`, as some field systems (KoboToolbox) send it.
        """
        event_type = EVENT_KINDS.get(kind)
        if event_type is None:
            close = did_you_mean(kind, EVENT_KINDS)
            hint = f"; did you mean '{close}'?" if close else ""
            raise SpecError(f"'{kind}' is not a kind of event{hint}\nThe kinds are: "
                            + ", ".join(EVENT_KINDS))
        if name is not None and not name.strip():
            raise SpecError('the record\'s name in quotes is empty; write a name such as '
                            '"esc-1", or leave out the quotes')
        if subject_only:
            _check_subject_only(kind, EVENT_KINDS[kind], rows)
        schema = load_schema()
        table = read_table(rows, schema.types[event_type].tree, kind, self.now, envelope=True)
        number = next(self._ids)
        data: dict[str, Any] = {}
        if event_type not in _NO_DATA:
            record = name if name is not None else f"record-{number}"
            version = self._versions.get(record, 0) + 1
            self._versions[record] = version
            data = {"org": {"id": self.org_id, "kind": self.org_kind}, "entity_id": record,
                    "version": version}
            if subject_only:
                del data["entity_id"]
            subject: str | None = record
        else:
            subject = name
        deep_merge(data, table.values)
        envelope: dict[str, Any] = {
            "specversion": "1.0", "id": table.envelope.get("id", f"ev-{number}"),
            "source": SOURCE, "type": event_type,
            "time": table.envelope.get("time", format_time(self.now)), "country": self.country,
            "data": data,
        }
        subject = table.envelope.get("subject", subject)
        if subject is not None:
            envelope["subject"] = subject
        area = table.envelope.get("area", self.area)
        if area is not None:
            envelope["area"] = area
        try:
            event = Event.from_json(envelope)
        except EventValidationError as exc:
            problems = "\n".join(f"    {_field(path)}: {message}" for path, message in
                                 exc.problems)
            raise SpecError(f"{kind} is not a valid event:\n{problems}") from None
        raised = self.engine(line).evaluate(event)
        self._keep(raised, acting, line, f"{kind}" + (f' "{name}"' if name else ""))
        return event

    def advance_by(self, amount: int, unit: str, *, acting: bool, line: int | None) -> None:
        if amount <= 0:
            raise SpecError("time only moves forward: say how much time passes, e.g. "
                            "`1 day passes`")
        try:
            target = shifted(self.now, amount, unit)
        except SpecError:
            said = str(amount) if amount < 10 ** 30 else "that many"
            raise SpecError(f"{said} {unit} from {format_time(self.now)} is beyond the year "
                            f"{MAX_YEAR}; times must stay within {YEARS}") from None
        self._tick(target, acting, line, f"{amount} {unit} passing")

    def advance_to(self, text: str, *, acting: bool, line: int | None) -> None:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
            day = parse_time(text)
            target = day + dt.timedelta(hours=8) if day is not None else None
        else:
            try:
                target = dt.datetime.fromisoformat(text)
            except ValueError:
                target = None
            if target is not None and target.tzinfo is None:
                target = target.replace(tzinfo=dt.UTC)
        if target is None:
            raise SpecError(f"'{text}' is not a date (2026-11-20) or a date-time "
                            "(2026-11-20T14:00Z)")
        if not MIN_YEAR <= target.astimezone(dt.UTC).year <= MAX_YEAR:
            raise SpecError(f"'{text}' is in the year {target.astimezone(dt.UTC).year}; times "
                            f"must stay within {YEARS}")
        if target < self.now:
            raise SpecError(f"time only moves forward: it is already {format_time(self.now)}, "
                            f"after {format_time(target)}")
        self._tick(target, acting, line, f"time moving to {format_time(target)}")

    def _tick(self, target: dt.datetime, acting: bool, line: int | None, what: str) -> None:
        engine = self.engine(line)
        raised: Sequence[Advisory] = ()
        if target > self.now:
            raised = engine.advance(self.country, target)
            self.now = target
        self._keep(raised, acting, line, what)

    def _keep(self, raised: Sequence[Advisory], acting: bool, line: int | None,
              what: str) -> None:
        kept = [Raised(a, line, what) for a in raised]
        if acting:
            self._pending.extend(kept)
            if line is not None:
                self._pending_lines.append(line)
            self._when_since_then = True
        else:
            self.history.extend(kept)

    # ------------------------------------------------------------------ the Then checks

    def batch(self) -> list[Raised]:
        """What the When steps since the previous Then raised (the same for Thens in a row)."""
        if self._when_since_then:
            self._checked, self._checked_lines = self._pending, self._pending_lines
            self._pending, self._pending_lines = [], []
            self._when_since_then = False
        if self._checked is None:
            raise SpecError("this Then has no When step before it: Then checks what the When "
                            "steps raised. Write the event or the passing of time that should "
                            "raise it after When.")
        return self._checked

    def rule(self, rule_id: str) -> str:
        """`rule_id`, checked against the loaded rules (a typo must not pass as `not raised`)."""
        if self.bundle.rule(rule_id) is not None:
            return rule_id
        ids = [r.id for r in self.bundle.rules]
        close = did_you_mean(rule_id, ids)
        hint = f"; did you mean {close}?" if close else ""
        shape = "" if _RULE_ID_RE.match(rule_id) else " (rule ids look like ESC-004)"
        raise SpecError(f"{rule_id} is not a rule in {self.rules_label}{shape}{hint}")

    def expect_raised(self, rule_id: str, *, severity: str | None = None,
                      count: int | None = None) -> None:
        rule_id = self.rule(rule_id)
        if severity is not None and severity not in _SEVERITIES:
            raise SpecError(f"'{severity}' is not a severity; the severities are "
                            + ", ".join(_SEVERITIES))
        if count is not None and count < 1:
            raise SpecError(f"to say that {rule_id} is not raised, write `Then {rule_id} is "
                            "not raised`")
        batch = self.batch()
        mine = [r for r in batch if r.advisory.rule_id == rule_id]
        wanted = f"{rule_id} to be raised" + (f" as {severity}" if severity else "")
        if count is not None:
            wanted += f" {_times(count)}"
        if not mine:
            self._fail(f"Expected {wanted}, but it was not raised.")
        if severity is not None:
            wrong = [r for r in mine if r.advisory.severity.value != severity]
            if wrong:
                got = ", ".join(f"as {r.advisory.severity.value}" + _reasons(r.advisory)
                                for r in wrong)
                self._fail(f"Expected {wanted}, but it was raised {got}.")
        if count is not None and len(mine) != count:
            self._fail(f"Expected {wanted}, but it was raised {_times(len(mine))}.")

    def expect_not_raised(self, rule_id: str) -> None:
        rule_id = self.rule(rule_id)
        mine = [r for r in self.batch() if r.advisory.rule_id == rule_id]
        if mine:
            self._fail(f"Expected {rule_id} not to be raised, but it was raised "
                       f"{_times(len(mine))}.")

    def expect_nothing(self) -> None:
        batch = self.batch()
        if batch:
            rules = ", ".join(dict.fromkeys(r.advisory.rule_id for r in batch))
            self._fail(f"Expected no advisory, but {rules} "
                       f"{'was' if len(batch) == 1 else 'were'} raised.")

    def expect_only(self, listed: str) -> None:
        wanted = [self.rule(r) for r in split_rule_list(listed)]
        if not wanted:
            raise SpecError("name the rules, e.g. `Then only ESC-001 and ESC-004 are raised`")
        got = list(dict.fromkeys(r.advisory.rule_id for r in self.batch()))
        missing = [r for r in wanted if r not in got]
        extra = [r for r in got if r not in wanted]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"{_and(missing)} {'was' if len(missing) == 1 else 'were'} not "
                             "raised")
            if extra:
                parts.append(f"{_and(extra)} {'was' if len(extra) == 1 else 'were'} raised too")
            self._fail(f"Expected only {_and(wanted)} to be raised, but {' and '.join(parts)}.")

    def expect_mention(self, rule_id: str, where: str, phrase: str) -> None:
        rule_id = self.rule(rule_id)
        mine = [r for r in self.batch() if r.advisory.rule_id == rule_id]
        wanted = f"the {where} of {rule_id} to mention \"{phrase}\""
        if not mine:
            self._fail(f"Expected {wanted}, but {rule_id} was not raised.")
        for item in mine:
            texts = ([item.advisory.advice] if where == "advice"
                     else _explanation_texts(item.advisory))
            if not any(phrase.lower() in t.lower() for t in texts):
                shown = ("It reads: " + " ".join(item.advisory.advice.split())
                         if where == "advice" else
                         "It reads:\n" + "\n".join(f"    {t}" for t in texts))
                self._fail(f"Expected {wanted}, but it does not (raised by {item.what}).\n"
                           f"{shown}")

    def expect_context_unknown(self, rule_id: str) -> None:
        rule_id = self.rule(rule_id)
        mine = [r for r in self.batch() if r.advisory.rule_id == rule_id]
        if not mine:
            self._fail(f"Expected {rule_id} to say the context was unknown, but {rule_id} was "
                       "not raised.")
        known = [r for r in mine if r.advisory.context_known]
        if known:
            version = known[0].advisory.context_version or "?"
            self._fail(f"Expected {rule_id} to say the context was unknown, but it was raised "
                       f"with the {self.country} profile (version {version}).")

    def _fail(self, message: str) -> None:
        raise ExpectationNotMet(message + "\n" + self.summary())

    def summary(self) -> str:
        """What the When steps in question raised, and what the Given steps raised."""
        batch = self._checked or []
        lines_ = self._checked_lines
        span = ""
        if lines_:
            span = (f" (line {lines_[0]})" if len(lines_) == 1
                    else f" (lines {lines_[0]} to {lines_[-1]})")
        out = []
        if batch:
            out.append(f"What the When steps{span} raised:")
            out.extend(f"  - {r.describe()}" for r in batch)
        else:
            out.append(f"The When steps{span} raised nothing.")
        if self.history:
            out.append("Raised by Given steps (the scene; not checked):")
            out.extend(f"  - {r.describe()}" for r in self.history)
        if self.profile() is None and self.country not in self.bundle.contexts:
            shipped = ", ".join(sorted(self.bundle.contexts)) or "none"
            where = ("no operation was named" if self.country == NO_PROFILE_COUNTRY
                     else f"{self.country} has no context profile")
            out.append(f"(The context was unknown: {where}; shipped profiles: {shipped}.)")
        return "\n".join(out)


def _check_subject_only(kind: str, event_type: str, rows: Sequence[Row]) -> None:
    """Refuse what contradicts "with its id only in the subject": a context update (it is
    about no record), or a table row that sets `entity_id` or `event.subject`."""
    if event_type in _NO_DATA:
        raise SpecError(f"{kind} is about no record, so it has no id to put in the subject; "
                        "leave out `with its id only in the subject`")
    for row in rows:
        if row.field in ("entity_id", "event.subject") and row.value:
            raise SpecError(f"{row.where}: this event carries its record's id only in the "
                            "subject, as the name in quotes; remove the row, or leave out "
                            "`with its id only in the subject`")


def _field(path: str) -> str:
    """``data.vehicles[0].markings`` -> ``vehicles[1].markings`` (as written in tables)."""
    path = path[len("data."):] if path.startswith("data.") else path
    return re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + 1}]", path)


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _reasons(advisory: Advisory) -> str:
    if not advisory.severity_reasons:
        return ""
    return " (" + "; ".join(advisory.severity_reasons) + ")"


def _explanation_texts(advisory: Advisory) -> list[str]:
    texts = []
    for item in advisory.explanation:
        value = json.dumps(thaw(item.value), ensure_ascii=False) if not isinstance(
            item.value, str) else item.value
        field = f"[{item.field}] " if item.field else ""
        texts.append(f"{field}{item.condition} = {value} "
                     f"({'held' if item.held else 'did not hold'})")
    texts.extend(advisory.severity_reasons)
    return texts

