"""The data that crosses the library's boundary: events in, advisories out.

All models are frozen. Each has ``to_json()`` (plain JSON-ready dicts) and a
``from_json()`` that reads exactly what ``to_json()`` wrote, so nothing is lost in a round
trip through a file, a queue or the HTTP sidecar. What an event's content may hold, and its
frozen form, are checked by `_content`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._content import (
    FrozenOnRead,
    content_hash,
    content_problems,
    freeze,
    name_problem,
    thaw,
)
from ._errors import EventValidationError
from ._problems import suggestion
from ._schema import load_schema, parse_time

__all__ = [
    "Advisory",
    "Event",
    "EventRef",
    "ExplanationItem",
    "Reference",
    "RulesVersion",
    "Severity",
    "format_time",
]

_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")
MIN_YEAR, MAX_YEAR = 1900, 2999
_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENVELOPE = ("specversion", "id", "source", "type", "time", "subject", "country", "area", "data")


class Severity(enum.Enum):
    """How much an advisory asks of the reader, lowest first."""

    INFO = "info"
    ADVICE = "advice"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def raised(self, levels: int = 1) -> Severity:
        """This severity `levels` steps up, capped at critical."""
        order = list(Severity)
        return order[min(len(order) - 1, self.rank + levels)]

    def __lt__(self, other: Severity) -> bool:
        return self.rank < other.rank

    def __le__(self, other: Severity) -> bool:
        return self.rank <= other.rank


_RANKS = MappingProxyType({s: i for i, s in enumerate(Severity)})


def format_time(value: dt.datetime) -> str:
    """RFC 3339 text, with ``Z`` for UTC."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@attrs.frozen
class Event:
    """A CloudEvents 1.0 event (structured mode) with the catalogue's `data` for its type.

    `country` (ISO 3166-1 alpha-3) and `area` (an admin p-code) are extension attributes:
    the country selects the context profile and the scope of stateful rules. Any other
    extension attribute is kept in `extensions` and written back out unchanged.
    """

    id: str
    source: str
    type: str
    time: dt.datetime
    country: str
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=freeze)
    subject: str | None = None
    area: str | None = None
    extensions: Mapping[str, Any] = attrs.field(factory=dict, converter=freeze)
    specversion: str = "1.0"
    # A plain copy of `data` (see `_plain`). Never handed out.
    _plain_data: dict[str, Any] | None = attrs.field(init=False, eq=False, repr=False,
                                                     default=None)
    # Set by `from_json`, which validates: the engine then need not validate again.
    _validated: bool = attrs.field(init=False, eq=False, repr=False, default=False)
    # `ref()`, made once: an event that raises is named in several advisories and states.
    _ref: EventRef | None = attrs.field(init=False, eq=False, repr=False, default=None)

    @property
    def _plain(self) -> dict[str, Any]:
        """`data` as plain dicts and lists, made once: the engine reads it on every call, and
        thawing the frozen view each time cost more than matching. `from_text` hands over
        the dicts it parsed instead (nobody else holds them), saving the copy."""
        plain = self._plain_data
        if plain is None:
            plain = thaw(self.data)
            object.__setattr__(self, "_plain_data", plain)
        return plain

    @property
    def key(self) -> tuple[str, str]:
        """What makes an event unique: its `source` and `id` (a retry carries the same pair)."""
        return (self.source, self.id)

    def content_hash(self) -> str:
        """The hash of this event's content (see `content_hash`): a re-delivery carries the
        same `key` and the same hash; the same key with another hash is other content."""
        return content_hash(self.to_json())

    def ref(self) -> EventRef:
        ref = self._ref
        if ref is None:
            ref = EventRef(source=self.source, id=self.id, type=self.type, time=self.time)
            object.__setattr__(self, "_ref", ref)
        return ref

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": format_time(self.time),
            "country": self.country,
        }
        if self.subject is not None:
            out["subject"] = self.subject
        if self.area is not None:
            out["area"] = self.area
        out.update(thaw(self.extensions))
        if self.data or self.type != "clock.tick":
            out["data"] = thaw(self.data)
        return out

    @classmethod
    def from_json(cls, obj: Any, *, where: str | None = None, stored: bool = False) -> Event:
        """Read and validate one event; raise `EventValidationError` naming every bad field.

        `stored=True` is for an event this library accepted and stored itself (the sidecar's
        log, replayed on start): its `data` is not checked against the schema again. It was
        checked when it was accepted, the check is half the cost of reading it, and a replay
        must not drop an accepted event because a later schema reads it differently.
        """
        problems: list[tuple[str, str]] = []
        if not isinstance(obj, Mapping):
            raise EventValidationError([("", f"expected a JSON object (a CloudEvent), got "
                                              f"{type(obj).__name__}")], where)

        def text(name: str, required: bool = True) -> str | None:
            value = obj.get(name)
            if value is None:
                if required:
                    problems.append((name, "required CloudEvents attribute is missing"))
                return None
            if not isinstance(value, str) or not value:
                problems.append((name, f"expected a non-empty text, got {value!r}"))
                return None
            problem = None if stored else name_problem(value)
            if problem is not None:
                problems.append((name, problem))
                return None
            return value

        specversion = text("specversion")
        if specversion is not None and specversion != "1.0":
            problems.append(("specversion", f"expected '1.0', got {specversion!r}"))
        event_id, source, type_ = text("id"), text("source"), text("type")
        raw_time, country = text("time"), text("country")
        subject, area = text("subject", required=False), text("area", required=False)
        when = parse_time(raw_time) if raw_time is not None else None
        if raw_time is not None and not stored and _DATE_ONLY_RE.match(raw_time):
            when = None  # RFC 3339 (and CloudEvents) `time` is a date-time, never a date
        if raw_time is not None and when is None:
            problems.append(("time", f"expected an RFC 3339 date-time with a time zone, "
                                     f"such as 2026-11-20T08:00:00Z, got {raw_time!r}"))
        elif when is not None and not MIN_YEAR <= when.year <= MAX_YEAR:
            # Windows and deadlines add up to years to an event's time; the calendar ends at 9999.
            problems.append(("time", f"expected a year from {MIN_YEAR} to {MAX_YEAR}, "
                                     f"got {raw_time!r}"))
        if country is not None and not _COUNTRY_RE.match(country):
            problems.append(("country", f"expected an ISO 3166-1 alpha-3 code such as 'SOM', "
                                        f"got {country!r}"))
        schema = load_schema()
        if type_ is not None and schema.event_type(type_) is None:
            problems.append(("type", f"unknown event type {type_!r}"
                                     f"{suggestion(type_, schema.types)}; known types: "
                                     + ", ".join(sorted(schema.types))))
        data = obj.get("data")
        if type_ is not None and schema.event_type(type_) is not None and not stored:
            problems.extend(schema.validate_data(type_, data))
        if stored and data is not None and not isinstance(data, Mapping):
            problems.append(("data", f"expected an object, got {type(data).__name__}"))
        extensions = {k: v for k, v in obj.items() if k not in _ENVELOPE}
        if not stored:  # what neither SQLite nor the matcher can take, named by its path
            problems.extend(content_problems(data, "data"))
            problems.extend(content_problems(extensions, ""))
        if problems:
            raise EventValidationError(problems, where)
        assert event_id is not None
        assert source is not None
        assert type_ is not None
        assert when is not None
        assert country is not None
        event = cls(id=event_id, source=source, type=type_, time=when, country=country,
                    data=data if data.__class__ is FrozenOnRead else dict(data or {}),
                    subject=subject, area=area, extensions=extensions, specversion="1.0")
        object.__setattr__(event, "_validated", True)
        return event

    @classmethod
    def from_text(cls, text: str | bytes, *, where: str | None = None,
                  stored: bool = False) -> Event:
        """`from_json` of one JSON text (a line of a log, a request body)."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EventValidationError([("", f"not valid JSON: {exc.msg} at column {exc.colno}")],
                                       where) from exc
        data = obj.get("data") if obj.__class__ is dict else None
        if stored and data.__class__ is dict:  # checked when stored: frozen only if read
            obj["data"] = FrozenOnRead(data)
        event = cls.from_json(obj, where=where, stored=stored)
        if data.__class__ is dict:  # parsed here, so held by nobody else: no copy needed
            object.__setattr__(event, "_plain_data", data)
        return event


@attrs.frozen
class EventRef:
    """Which event: enough to find it again in the source system or the event log."""

    source: str
    id: str
    type: str
    time: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "id": self.id, "type": self.type,
                "time": format_time(self.time)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> EventRef:
        when = parse_time(obj["time"])
        assert when is not None, obj["time"]
        return cls(source=obj["source"], id=obj["id"], type=obj["type"], time=when)


_MARKS = MappingProxyType({"V": "verified", "S": "secondary", "H": "heading", "U": "unverified"})


@attrs.frozen
class Reference:
    """A citation, with how far it was checked: V (read in the source), S (a secondary
    summary), H (its heading only) or U (unverified, from recall)."""

    source: str
    checked: str
    section: str | None = None
    url: str | None = None
    quote: str | None = None

    @property
    def checked_meaning(self) -> str:
        return _MARKS[self.checked]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "checked": self.checked}
        for name in ("section", "url", "quote"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Reference:
        return cls(source=obj["source"], checked=obj["checked"], section=obj.get("section"),
                   url=obj.get("url"), quote=obj.get("quote"))


@attrs.frozen
class ExplanationItem:
    """One condition of the rule as written, the value it met, and whether it held."""

    condition: str
    held: bool
    value: Any = attrs.field(default=None, converter=freeze)
    field: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> ExplanationItem:
        # Immutable all the way down (`value` is frozen), so a copy is itself; copying would
        # fail on the read-only mappings `freeze` makes. `Engine.preview` deep-copies an
        # operation's state, which holds these once restored from a snapshot.
        return self

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"condition": self.condition, "held": self.held,
                               "value": thaw(self.value)}
        if self.field is not None:
            out["field"] = self.field
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ExplanationItem:
        return cls(condition=obj["condition"], held=obj["held"], value=obj.get("value"),
                   field=obj.get("field"))


@attrs.frozen
class RulesVersion:
    """The rule-pack bundle that produced an advisory: its declared version and content hash."""

    version: str
    hash: str

    def __str__(self) -> str:
        return f"{self.version}+{self.hash[:12]}"

    def to_json(self) -> dict[str, str]:
        return {"version": self.version, "hash": self.hash}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RulesVersion:
        return cls(version=obj["version"], hash=obj["hash"])


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


class LazyItems:
    """Explanation items built by `build` when first asked for, then kept.

    What the builder reads must not change after it is made (the engine's builders read the
    event and the context as they were when it was judged), so building later, on any
    thread, gives what building at once would have.
    """

    __slots__ = ("_build", "_value")

    def __init__(self, build: Callable[[], Iterable[ExplanationItem]]) -> None:
        self._build: Callable[[], Iterable[ExplanationItem]] | None = build
        self._value: tuple[ExplanationItem, ...] = ()

    def __call__(self) -> tuple[ExplanationItem, ...]:
        build = self._build
        if build is not None:
            self._value, self._build = tuple(build()), None
        return self._value

    def then(self, item: ExplanationItem | Callable[[], ExplanationItem]) -> LazyItems:
        """These items and one more at the end (itself built lazily when a callable)."""
        def build() -> tuple[ExplanationItem, ...]:
            return (*self(), item if isinstance(item, ExplanationItem) else item())
        return LazyItems(build)

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyItems:
        return self  # immutable once built, and what it reads never changes (see above)


def _items_or_builder(value: Any) -> Any:
    if isinstance(value, LazyItems):
        return value
    return LazyItems(value) if callable(value) else tuple(value)


def _resolved(value: Any) -> tuple[ExplanationItem, ...]:
    return value if isinstance(value, tuple) else value()


def _same_items(left: Any, right: Any) -> bool:
    return _resolved(left) == _resolved(right)


@attrs.frozen
class Advisory:
    """What a rule raised for an event: advice for the field officer, never a block.

    `id` is derived from the rule, the bundle's hash and the triggering events, so a
    re-delivered event can never produce a second advisory. `severity` is the level after
    escalation and context uplift; `base_severity` is the rule's own level and
    `severity_reasons` says why they differ. `explanation` holds each condition of the rule
    as written with the value it met.
    """

    id: str
    rule_id: str
    title: str
    severity: Severity
    base_severity: Severity
    advice: str
    actions: tuple[str, ...] = attrs.field(converter=_tuple)
    references: tuple[Reference, ...] = attrs.field(converter=_tuple)
    subject: str | None
    source: str
    country: str
    area: str | None
    evidence: tuple[EventRef, ...] = attrs.field(converter=_tuple)
    # Held either as the items or as a callable that builds them, called on first read:
    # building an explanation re-reads every condition of the rule, which cost more than
    # matching, and a caller that stores only ids never reads it. It compares by its items.
    _explanation: tuple[ExplanationItem, ...] | LazyItems = (
        attrs.field(alias="explanation", converter=_items_or_builder, hash=False,
                    eq=attrs.cmp_using(eq=_same_items, require_same_type=False),
                    repr=lambda value: repr(_resolved(value))))
    rules_version: RulesVersion
    raised_at: dt.datetime
    severity_reasons: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    trigger: str = "main"
    context_known: bool = True
    context_version: str | None = None

    @property
    def explanation(self) -> tuple[ExplanationItem, ...]:
        """Each condition of the rule as written, the value it met and whether it held."""
        value = self._explanation
        if not isinstance(value, tuple):
            value = _resolved(value)
            # Frozen to callers; filled in once here so the builder and what it holds go.
            object.__setattr__(self, "_explanation", value)
        return value

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity.value,
            "base_severity": self.base_severity.value,
            "severity_reasons": list(self.severity_reasons),
            "advice": self.advice,
            "actions": list(self.actions),
            "references": [r.to_json() for r in self.references],
            "subject": self.subject,
            "source": self.source,
            "country": self.country,
            "area": self.area,
            "evidence": [e.to_json() for e in self.evidence],
            "explanation": [e.to_json() for e in self.explanation],
            "rules_version": self.rules_version.to_json(),
            "raised_at": format_time(self.raised_at),
            "trigger": self.trigger,
            "context_known": self.context_known,
            "context_version": self.context_version,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Advisory:
        raised_at = parse_time(obj["raised_at"])
        assert raised_at is not None, obj["raised_at"]
        return cls(
            id=obj["id"],
            rule_id=obj["rule_id"],
            title=obj["title"],
            severity=Severity(obj["severity"]),
            base_severity=Severity(obj["base_severity"]),
            severity_reasons=obj.get("severity_reasons", ()),
            advice=obj["advice"],
            actions=obj["actions"],
            references=[Reference.from_json(r) for r in obj["references"]],
            subject=obj.get("subject"),
            source=obj["source"],
            country=obj["country"],
            area=obj.get("area"),
            evidence=[EventRef.from_json(e) for e in obj["evidence"]],
            explanation=[ExplanationItem.from_json(e) for e in obj["explanation"]],
            rules_version=RulesVersion.from_json(obj["rules_version"]),
            raised_at=raised_at,
            trigger=obj.get("trigger", "main"),
            context_known=obj.get("context_known", True),
            context_version=obj.get("context_version"),
        )
