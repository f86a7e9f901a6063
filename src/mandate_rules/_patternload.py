"""Triggers, patterns (count, absence, lookback) and escalations of a rule pack.

`TriggerReader` reads what makes a rule fire beyond its conditions: named triggers, the
pattern a trigger follows over time (its key fields, window, levels or deadline) and the
escalations that raise a rule's severity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._conditions import CONTEXT, DATA, EVENT, UNITS, Path
from ._models import Severity
from ._packreader import _SEVERITIES
from ._problems import suggestion
from ._rules import Absence, Count, Escalation, Lookback, Pattern, Side, Trigger, Where
from ._schema import LIST, TIME, Kind, ObjectList
from ._typecheck import ConditionChecker
from ._yamlsrc import item_line, key_line, plain

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+([a-z]+)\s*$")
_TRIGGER_KEYS = ("name", "on", "when", "severity", "advice", "actions", "count", "absence",
                 "lookback")


class TriggerReader(ConditionChecker):
    """Reads triggers, their patterns and a rule's escalations."""

    def trigger(self, raw: Any, line: int, what: str, rule_on: tuple[str, ...],
                values: Mapping[str, Any], index: int) -> Trigger | None:
        if not isinstance(raw, dict):
            self.problem(line, "bad-trigger", f"each trigger of {what} should be a mapping")
            return None
        self.unknown_keys(raw, _TRIGGER_KEYS, line, "a trigger")
        name = str(raw.get("name") or ("main" if index == 0 else f"trigger-{index + 1}"))
        t_what = f"{what}, trigger {name!r}"
        on = self.event_types(raw, "on", line, t_what, required=False) or rule_on
        if not on:
            self.problem(line, "missing-on", f"{t_what} has no 'on' and the rule has none")
        if "when" not in raw:
            self.problem(line, "missing-when", f"{t_what} has no 'when'")
            return None
        when = self.conditions(raw, "when", line, on, values)
        patterns = [k for k in ("count", "absence", "lookback") if k in raw]
        pattern: Pattern | None = None
        if len(patterns) > 1:
            self.problem(line, "bad-pattern", f"{t_what} names {' and '.join(patterns)}; "
                         "a trigger uses at most one pattern")
        elif patterns:
            pattern = self.pattern(patterns[0], raw, line, t_what, on, values)
        actions = None
        if "actions" in raw:
            actions = tuple(self.text_list(raw, "actions", line, t_what))
        return Trigger(name=name, on=on, when=when, pattern=pattern,
                       severity=self.severity(raw, "severity", line, t_what, required=False),
                       advice=self.text(raw, "advice", line, t_what, required=False),
                       actions=actions, where=Where(self.file, line))

    def pattern(self, kind: str, raw: Any, line: int, what: str, on: tuple[str, ...],
                values: Mapping[str, Any]) -> Pattern | None:
        spec = raw[kind]
        p_line = key_line(raw, kind, line)
        if not isinstance(spec, dict):
            self.problem(p_line, "bad-pattern", f"'{kind}' of {what} should be a mapping")
            return None
        allowed = {"count": ("by", "within", "at_least", "levels"),
                   "absence": ("by", "within", "deadline", "until"),
                   "lookback": ("by", "within", "prior")}[kind]
        self.unknown_keys(spec, allowed, p_line, f"a {kind} pattern")
        by = self.key_paths(spec, p_line, what, on)
        if kind == "count":
            within = self.duration(spec, "within", p_line, what, values, required=True)
            levels = self.levels(spec, p_line, what, values)
            if within is None or not levels:
                return None
            return Count(by, within, levels)
        if kind == "absence":
            within = self.duration(spec, "within", p_line, what, values, required=False)
            deadline = None
            if "deadline" in spec:
                deadline = self.field_path(str(spec["deadline"]), key_line(spec, "deadline",
                                           p_line), on, what)
                if deadline is not None and not self.is_time(deadline, on):
                    self.problem(key_line(spec, "deadline", p_line), "bad-pattern",
                                 f"the deadline {spec['deadline']!r} of {what} should be a time "
                                 "field of the starting event")
                    deadline = None
            if (within is None) == (deadline is None):
                self.problem(p_line, "bad-pattern", f"the absence of {what} needs exactly one "
                             "of 'within' (a duration) or 'deadline' (a time field)")
                return None
            until = self.side(spec, "until", p_line, what, by, values)
            if until is None:
                return None
            return Absence(by, until, within, deadline)
        within = self.duration(spec, "within", p_line, what, values, required=True)
        prior = self.side(spec, "prior", p_line, what, by, values)
        if within is None or prior is None:
            return None
        return Lookback(by, within, prior)

    def side(self, spec: Any, key: str, line: int, what: str, by: tuple[Path, ...],
             values: Mapping[str, Any]) -> Side | None:
        raw = spec.get(key)
        s_line = key_line(spec, key, line)
        if not isinstance(raw, dict):
            self.problem(s_line if key in spec else line, "bad-pattern",
                         f"{what} needs '{key}' with 'on' and 'when'")
            return None
        self.unknown_keys(raw, ("on", "when", "by"), s_line, f"'{key}'")
        on = self.event_types(raw, "on", s_line, f"'{key}' of {what}", required=True)
        when = self.conditions(raw, "when", s_line, on, values)
        side_by = self.key_paths(raw, s_line, f"'{key}' of {what}", on) if "by" in raw else by
        if len(side_by) != len(by):
            self.problem(s_line, "bad-pattern", f"'{key}' of {what} has {len(side_by)} key "
                         f"field(s) but the trigger has {len(by)}; keys are compared in order")
        return Side(on, when, side_by)

    def key_paths(self, spec: Any, line: int, what: str, on: tuple[str, ...]) -> tuple[Path, ...]:
        raw = spec.get("by")
        b_line = key_line(spec, "by", line)
        if raw is None:
            self.problem(line, "bad-pattern", f"{what} needs 'by' (the key fields)")
            return ()
        if isinstance(raw, str):
            raw = [raw]
        out = []
        for text in raw:
            path = self.field_path(str(text), b_line, on, what)
            if path is not None:
                out.append(path)
        return tuple(out)

    def field_path(self, text: str, line: int, on: tuple[str, ...], what: str) -> Path | None:
        parts = tuple(text.strip().split("."))
        path = Path(parts[0], parts[1:]) if parts[0] in (DATA, EVENT, CONTEXT) and len(
            parts) > 1 else Path(DATA, parts)
        kinds = self.kinds(path, on, line, text)
        if kinds is None:
            return None
        if any(isinstance(k, ObjectList) or k.name == LIST for k in kinds):
            self.problem(line, "bad-pattern", f"{text!r} in {what} is a list; a key must be a "
                         "single value")
            return None
        return path

    def is_time(self, path: Path, on: tuple[str, ...]) -> bool:
        kinds = self.kinds(path, on, 0, str(path), report=False) or []
        return bool(kinds) and all(isinstance(k, Kind) and k.name == TIME for k in kinds)

    def duration(self, spec: Any, key: str, line: int, what: str, values: Mapping[str, Any], *,
                 required: bool) -> float | None:
        raw = spec.get(key)
        d_line = key_line(spec, key, line)
        if raw is None:
            if required:
                self.problem(line, "bad-pattern", f"{what} needs '{key}' (a duration such as "
                             "'30 days')")
            return None
        text = self.substitute(str(plain(raw)), d_line, values)
        if text is None:
            return None
        match = _DURATION_RE.match(text)
        if not match or match.group(2) not in UNITS:
            self.problem(d_line, "bad-duration", f"{key} of {what} is {text!r}; write a number and "
                         "a unit, such as '30 days' or '72 hours'")
            return None
        return float(match.group(1)) * UNITS[match.group(2)]

    def levels(self, spec: Any, line: int, what: str,
               values: Mapping[str, Any]) -> tuple[tuple[int, Severity | None], ...]:
        out: list[tuple[int, Severity | None]] = []
        if ("at_least" in spec) == ("levels" in spec):
            self.problem(line, "bad-pattern", f"the count of {what} needs exactly one of "
                         "'at_least' or 'levels'")
            return ()
        if "at_least" in spec:
            number = self.count_number(spec["at_least"], key_line(spec, "at_least", line), values)
            return ((number, None),) if number is not None else ()
        raw = spec["levels"]
        l_line = key_line(spec, "levels", line)
        if not isinstance(raw, dict) or not raw:
            self.problem(l_line, "bad-pattern", "'levels' should map severities to counts, "
                         "e.g. {advice: 3, warning: 6}")
            return ()
        for sev, number_raw in raw.items():
            if str(sev) not in _SEVERITIES:
                self.problem(l_line, "bad-severity", f"{sev!r} in 'levels' is not a severity"
                             f"{suggestion(str(sev), _SEVERITIES)}")
                continue
            number = self.count_number(number_raw, l_line, values)
            if number is not None:
                out.append((number, Severity(str(sev))))
        ordered = sorted(out, key=lambda pair: pair[0])
        if [s for _, s in ordered] != sorted((s for _, s in ordered), key=lambda s: s.rank):  # type: ignore[union-attr]
            self.problem(l_line, "bad-pattern", "'levels' should rise with the count")
        return tuple(ordered)

    def count_number(self, raw: Any, line: int, values: Mapping[str, Any]) -> int | None:
        text = self.substitute(str(plain(raw)), line, values)
        if text is None:
            return None
        if not text.strip().isdigit() or int(text) < 1:
            self.problem(line, "bad-pattern", f"a count should be a whole number of at least 1, "
                         f"got {text!r}")
            return None
        return int(text)

    def escalations(self, raw: Any, line: int, what: str, on: tuple[str, ...],
                    values: Mapping[str, Any], base: Severity) -> list[Escalation]:
        value = raw.get("escalate")
        if value is None:
            return []
        e_line = key_line(raw, "escalate", line)
        if not isinstance(value, list) or not value:
            self.problem(e_line, "bad-escalation", f"'escalate' of {what} should be a list")
            return []
        out = []
        for index, esc in enumerate(value):
            i_line = item_line(value, index, e_line)
            if not isinstance(esc, dict):
                self.problem(i_line, "bad-escalation", "each escalation needs 'to', 'because' "
                             "and 'when'")
                continue
            self.unknown_keys(esc, ("to", "because", "on", "when"), i_line, "an escalation")
            to = self.severity(esc, "to", i_line, f"an escalation of {what}", required=True)
            because = self.text(esc, "because", i_line, f"an escalation of {what}")
            esc_on = self.event_types(esc, "on", i_line, what, required=False) or on
            when = self.conditions(esc, "when", i_line, esc_on, values)
            if to is not None and to.rank <= base.rank:
                self.problem(i_line, "bad-escalation", f"an escalation of {what} goes to "
                             f"{to.value}, which is not above the rule's {base.value}")
            if to is not None and because is not None:
                out.append(Escalation(to, because, esc_on, when))
        return out

