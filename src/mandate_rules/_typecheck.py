"""Conditions of a rule pack, parsed and type-checked against the event schema.

`ConditionChecker` turns each `when` line into a condition tree (`_conditions`) after putting
the rule's parameters in, and checks every field it names exists for the event types the rule
looks at, with a kind its operator and operand fit (`_schema`). Problems name the line and the
condition's text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._conditions import (
    CONTEXT,
    EVENT,
    EVENT_ATTRIBUTES,
    ITEM,
    AnyItem,
    Compare,
    ConditionSyntaxError,
    Group,
    Has,
    Member,
    Node,
    Path,
    Presence,
    Ref,
    parse_condition,
)
from ._packreader import PackReader
from ._problems import suggestion
from ._schema import BOOL, BOOL_OR_TEXT, ENUM, LIST, TIME, Kind, ObjectList
from ._yamlsrc import item_line, key_line, plain

_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConditionChecker(PackReader):
    """Reads and type-checks condition lists, groups and single condition lines."""

    def substitute(self, text: str, line: int, values: Mapping[str, Any]) -> str | None:
        ok = True

        def repl(match: re.Match[str]) -> str:
            nonlocal ok
            name = match.group(1)
            if name not in values:
                ok = False
                self.problem(line, "unknown-parameter", f"{{{name}}} is not a parameter of this "
                             f"rule{suggestion(name, values)}")
                return match.group(0)
            return str(values[name])

        out = _PARAM_RE.sub(repl, text)
        return out if ok else None

    def conditions(self, node: Any, key: str, line: int, on: tuple[str, ...],
                   values: Mapping[str, Any], *, context_only: bool = False) -> tuple[Node, ...]:
        raw = node.get(key)
        c_line = key_line(node, key, line)
        if raw is None:
            self.problem(line, f"missing-{key}", f"expected '{key}' (a list of conditions)")
            return ()
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            self.problem(c_line, "bad-condition", f"'{key}' should be a non-empty list of "
                         "conditions")
            return ()
        out = []
        for index, item in enumerate(raw):
            cond = self.condition(item, item_line(raw, index, c_line), on, values, context_only)
            if cond is not None:
                out.append(cond)
        return tuple(out)

    def condition(self, item: Any, line: int, on: tuple[str, ...], values: Mapping[str, Any],
                  context_only: bool, negated: bool = False) -> Node | None:
        """One condition line or group; `negated` says it sits under an odd number of
        `none of` groups (some constructs cannot be negated reliably)."""
        if isinstance(item, dict):
            if len(item) != 1:
                self.problem(line, "bad-condition", "a group is written 'any of:', 'all of:' or "
                             "'none of:' followed by its list of conditions")
                return None
            (label, inner), = item.items()
            modes = {"any of": "any", "all of": "all", "none of": "none"}
            if label not in modes:
                self.problem(line, "unknown-operator", f"{label!r} is not a group"
                             f"{suggestion(str(label), modes)}; use 'any of', 'all of' or "
                             "'none of'")
                return None
            if not isinstance(inner, list) or not inner:
                self.problem(line, "bad-condition", f"'{label}' needs a list of conditions")
                return None
            items = []
            for index, sub in enumerate(inner):
                node = self.condition(sub, item_line(inner, index, line), on, values,
                                      context_only, negated != (modes[label] == "none"))
                if node is not None:
                    items.append(node)
            if len(items) != len(inner):
                return None
            return Group(f"{label}:", modes[label], tuple(items), line)
        if not isinstance(item, str):
            self.problem(line, "bad-condition", f"a condition should be one line of text, got "
                         f"{plain(item)!r}")
            return None
        text = self.substitute(item, line, values)
        if text is None:
            return None
        try:
            node = parse_condition(text, self.sets)
        except ConditionSyntaxError as exc:
            self.problem(line, exc.code, exc.message)
            return None
        before = len(self.problems)
        self.check_node(node, line, on, None, context_only, negated)
        return node if len(self.problems) == before else None

    def kinds(self, path: Path, on: tuple[str, ...], line: int, text: str, *,
              item: ObjectList | None = None, report: bool = True) -> list[Any] | None:
        """The kind of `path` for every event type in `on` (None after reporting a problem)."""
        if path.scope == EVENT:
            attr = path.dotted
            if attr not in EVENT_ATTRIBUTES:
                if report:
                    self.problem(line, "unknown-field", f"'event.{attr}' is not an envelope "
                                 f"attribute{suggestion(attr, EVENT_ATTRIBUTES)}; known: "
                                 + ", ".join(EVENT_ATTRIBUTES))
                return None
            return [Kind(TIME) if attr == "time" else Kind("text")]
        if path.scope == CONTEXT:
            kind = self.schema.context_kind(path.dotted)
            if kind is None:
                if report:
                    near = self._near(path.dotted, self.schema.context_paths())
                    self.problem(line, "unknown-field",
                                 f"'context.{path.dotted}' is not a context field{near}")
                return None
            return [kind]
        if path.scope == ITEM:
            assert item is not None
            found = self.schema.lookup(item.fields, path.dotted)
            if found is None:
                if report:
                    self.problem(line, "unknown-field", f"{path.dotted!r} is not a field of the "
                                 f"list's items{suggestion(path.dotted, list(item.fields))}")
                return None
            return [found]
        # A field need only exist in one of the event types the condition looks at: for the
        # others it is missing (so `medevac is not true` holds for a type with no medevac).
        kinds = [k for k in (self.schema.data_kind(t, path.dotted) for t in on) if k is not None]
        if kinds:
            return kinds
        if report:
            inside = sorted({p for t in on for p in self.schema.data_paths(t)
                             if p.startswith(path.dotted + ".") and "[]" not in p})
            if inside:
                self.problem(line, "bad-field", f"{path.dotted!r} holds several fields ("
                             + ", ".join(inside[:6]) + f"); name one of them (in {text!r})")
            else:
                known = sorted({p for t in on for p in self.schema.data_paths(t)})
                self.problem(line, "unknown-field", f"{path.dotted!r} is not a field of "
                             f"{' or '.join(on)}{self._near(path.dotted, known)} (in {text!r})")
        return None

    @staticmethod
    def _near(word: str, choices: list[str]) -> str:
        return suggestion(word, [c for c in choices if "[]" not in c])

    def check_node(self, node: Node, line: int, on: tuple[str, ...], item: ObjectList | None,
                   context_only: bool, negated: bool = False) -> None:
        if context_only:
            for path in node.paths():
                if path.scope != CONTEXT:
                    self.problem(line, "bad-uplift", f"the uplift may only read context fields; "
                                 f"{str(path)!r} is a field of the event")
                    return
        if isinstance(node, Group):
            for sub in node.items:
                self.check_node(sub, line, on, item, context_only,
                                negated != (node.mode == "none"))
            return
        if isinstance(node, AnyItem):
            if negated and len(node.conditions) > 1:
                # Its negation needs an "or" across fields of one item, which durable_rules
                # decides by the order of the item's keys (tests/test_differential.py).
                self.problem(line, "unsupported", f"{node.text!r} under 'none of' (or 'is not') "
                             "cannot be decided reliably: the engine cannot negate an 'any … "
                             "where' with several conditions. Name the situation positively, or "
                             "split it so each 'any … where' has one condition")
                return
            kinds = self.kinds(node.path, on, line, node.text)
            if kinds is None:
                return
            lists = [k for k in kinds if isinstance(k, ObjectList)]
            if len(lists) != len(kinds):
                self.problem(line, "bad-operator", f"'any {node.path} where …' needs a list of "
                             f"objects; {str(node.path)!r} is {self.describe(kinds[0])}"
                             + ("; use 'contains'" if kinds and isinstance(kinds[0], Kind) and
                                kinds[0].name == LIST else ""))
                return
            for sub in node.conditions:
                for obj_list in lists:
                    self.check_node(sub, line, on, obj_list, context_only)
            return
        path = node.path  # type: ignore[attr-defined]
        kinds = self.kinds(path, on, line, node.text, item=item)
        if kinds is None:
            return
        for kind in kinds:
            self.check_kind(node, kind, line, on, item)

    @staticmethod
    def describe(kind: Any) -> str:
        return "a list of objects" if isinstance(kind, ObjectList) else str(kind.describe())

    def check_kind(self, node: Node, kind: Any, line: int, on: tuple[str, ...],
                   item: ObjectList | None) -> None:
        text = node.text
        if isinstance(node, Presence):
            return
        if isinstance(kind, ObjectList):
            self.problem(line, "bad-operator", f"{text!r}: {str(node.path)!r} is a list of "  # type: ignore[attr-defined]
                         "objects; use 'any … where …' or 'is present' / 'is missing'")
            return
        if isinstance(node, Has):
            if kind.name != LIST:
                self.problem(line, "bad-operator", f"{text!r}: 'contains' and 'lacks' need a "
                             f"list, and {str(node.path)!r} is {kind.describe()}")
                return
            self.check_operand(node.operand, kind.item, line, on, item, text)
            return
        if kind.name == LIST:
            self.problem(line, "bad-operator", f"{text!r}: {str(node.path)!r} is a list; use "  # type: ignore[attr-defined]
                         "'contains' or 'lacks'")
            return
        if isinstance(node, Member):
            if kind.name in (BOOL, TIME):
                self.problem(line, "bad-operator", f"{text!r}: 'in' needs a field of words or "
                             f"numbers, and {str(node.path)!r} is {kind.describe()}")
                return
            for value in node.values:
                self.check_literal(value, kind, line, text)
            return
        assert isinstance(node, Compare)
        if node.op in ("<", "<=", ">", ">=") and not kind.is_numeric():
            self.problem(line, "bad-operator", f"{text!r}: {node.op!r} compares numbers or "
                         f"times, and {str(node.path)!r} is {kind.describe()}")
            return
        if kind.name == BOOL and not isinstance(node.operand, (bool, Ref)):
            self.problem(line, "bad-value", f"{text!r}: {str(node.path)!r} is yes/no; write "
                         f"'{node.path} is true' or '{node.path} is false'")
            return
        self.check_operand(node.operand, kind, line, on, item, text)

    def check_operand(self, operand: Any, kind: Kind | None, line: int, on: tuple[str, ...],
                      item: ObjectList | None, text: str) -> None:
        assert kind is not None
        if isinstance(operand, Ref):
            other = self.kinds(operand.path, on, line, text, item=item)
            if other is None:
                return
            for okind in other:
                if isinstance(okind, ObjectList) or okind.name == LIST:
                    self.problem(line, "bad-operand", f"{text!r}: {str(operand.path)!r} is a "
                                 "list and cannot be compared with a single value")
                    return
                if (kind.name == TIME) != (okind.name == TIME) or (
                        kind.is_numeric() != okind.is_numeric()) or (
                        (kind.name in (BOOL, BOOL_OR_TEXT) or okind.name in (BOOL, BOOL_OR_TEXT))
                        and kind.name != okind.name):
                    self.problem(line, "bad-operand", f"{text!r}: cannot compare "
                                 f"{kind.describe()} with {okind.describe()}")
                    return
            if operand.offset_seconds and kind.name != TIME:
                self.problem(line, "bad-duration", f"{text!r}: '+ N days' shifts times only")
            return
        if kind.name == TIME:
            self.problem(line, "bad-operand", f"{text!r}: compare a time with another time "
                         "field (e.g. 'data.period.start + 30 days' or 'event.time')")
            return
        self.check_literal(operand, kind, line, text)

    def check_literal(self, value: Any, kind: Kind, line: int, text: str) -> None:
        if isinstance(value, float) and "e" in repr(value):
            self.problem(line, "bad-value", f"{text!r}: {value!r} is too large or too small for "
                         "the matching engine; use a number between 0.0001 and 10^15")
            return
        if kind.name == BOOL_OR_TEXT and not isinstance(value, bool):
            self.problem(line, "bad-value", f"{text!r}: this field is yes/no or a free text, "
                         "and any text counts as yes; compare it with true or false only")
            return
        if kind.name == ENUM:
            if not isinstance(value, str) or value not in kind.choices:
                self.problem(line, "bad-value", f"{text!r}: {value!r} is not one of the words "
                             f"this field takes{suggestion(str(value), kind.choices)}; allowed: "
                             + ", ".join(sorted(kind.choices)))
            return
        error = kind.check(value)
        if error:
            self.problem(line, "bad-value", f"{text!r}: {error}")

