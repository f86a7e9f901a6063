"""The condition language of rule packs: one readable comparison per line.

A condition is parsed once into a small tree (`Node`). The tree has two readings:

* `holds()` here is the *direct reading*: plain Python over the event, used for the
  explanation and by the differential tests that keep the matcher honest;
* `_compiler.compile_condition()` turns the same tree into durable_rules' JSON, which is
  what actually decides whether a rule fires.

Semantics, the same in both readings (docs/rule-format.md says it for policy staff):

* a field that is absent, null, an empty text or an empty list is *missing*;
* a comparison with a missing field (on either side) is never true; only ``is missing``,
  ``lacks`` and the negations (``is not true``, ``none of``) are true for a missing field;
* times are compared as instants; ``+ 30 days`` shifts one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from ._errors import MandateRulesError
from ._problems import suggestion

DATA, EVENT, CONTEXT, ITEM = "data", "event", "context", "item"
SCOPES = (DATA, EVENT, CONTEXT)
EVENT_ATTRIBUTES = ("id", "source", "type", "time", "subject", "country", "area")
COMPARATORS = ("==", "!=", "<", "<=", ">", ">=")
UNITS = MappingProxyType({"day": 86400, "days": 86400, "hour": 3600, "hours": 3600,
                          "minute": 60, "minutes": 60})


class ConditionSyntaxError(MandateRulesError, ValueError):
    """Raised by `parse_condition` for a condition line that does not parse (an unknown
    operator, a misplaced word, an unknown set); `code` is the stable problem code. The loader
    turns it into a problem at the line of the rule pack."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class Path:
    """A field: `scope` is data, event, context or item (a field of a list item)."""

    scope: str
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)

    def __str__(self) -> str:
        return self.dotted if self.scope in (DATA, ITEM) else f"{self.scope}.{self.dotted}"

    def key(self) -> str:
        """Where the value sits in a fact: ``data.provider.kind``, or ``kind`` in an item."""
        return self.dotted if self.scope == ITEM else f"{self.scope}.{self.dotted}"


@attrs.frozen
class Ref:
    """Another field as an operand, optionally shifted by a duration (for times)."""

    path: Path
    offset_seconds: float = 0.0


Operand = Any  # a literal (str, bool, int, float), a tuple of literals, or a Ref


@attrs.frozen
class Node:
    """Base of the condition tree. `text` is the condition as the rule author wrote it."""

    text: str

    def paths(self) -> list[Path]:
        raise NotImplementedError  # pragma: no cover - abstract


@attrs.frozen
class Compare(Node):
    path: Path
    op: str  # one of COMPARATORS
    operand: Operand

    def paths(self) -> list[Path]:
        return [self.path] + ([self.operand.path] if isinstance(self.operand, Ref) else [])


@attrs.frozen
class Member(Node):
    """``path in [a, b]`` / ``path in SET`` (negated: ``not in``)."""

    path: Path
    values: tuple[Any, ...]
    negated: bool = False
    set_name: str | None = None

    def paths(self) -> list[Path]:
        return [self.path]


@attrs.frozen
class Has(Node):
    """``list contains value`` (negated: ``lacks``, which is also true for a missing list)."""

    path: Path
    operand: Operand
    negated: bool = False

    def paths(self) -> list[Path]:
        return [self.path] + ([self.operand.path] if isinstance(self.operand, Ref) else [])


@attrs.frozen
class Presence(Node):
    """``path is present`` / ``path is missing``."""

    path: Path
    present: bool

    def paths(self) -> list[Path]:
        return [self.path]


@attrs.frozen
class AnyItem(Node):
    """``any LIST where COND and COND``: some item of a list of objects meets every COND."""

    path: Path
    conditions: tuple[Node, ...]

    def paths(self) -> list[Path]:
        return [self.path] + [p for c in self.conditions for p in c.paths()]


@attrs.frozen
class Group(Node):
    """``all of`` / ``any of`` / ``none of`` a list of conditions."""

    mode: str  # "all", "any" or "none"
    items: tuple[Node, ...]
    line: int = 0

    def paths(self) -> list[Path]:
        return [p for c in self.items for p in c.paths()]


# --------------------------------------------------------------------------- parsing

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"[^"]*")
      | (?P<op>==|!=|<=|>=|<|>|\[|\]|,|\+)
      | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
      | (?P<word>[A-Za-z_][\w.\-]*|-(?=\s))
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionSyntaxError(
                "bad-condition", f"cannot read {text[pos:].strip()!r} in condition {text!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, sets: Mapping[str, Sequence[str]], *, item: bool = False):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.sets = sets
        self.item = item

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ConditionSyntaxError("bad-condition",
                                       f"condition {self.text!r} ends too early")
        self.i += 1
        return tok

    def word(self, expected: str) -> str:
        kind, value = self.take()
        if kind != "word":
            raise ConditionSyntaxError("bad-condition",
                                       f"expected {expected} in {self.text!r}, got {value!r}")
        return value

    def done(self) -> bool:
        return self.i >= len(self.toks)

    def path(self, text: str, *, left: bool) -> Path:
        parts = tuple(text.split("."))
        if any(not p for p in parts):
            raise ConditionSyntaxError("bad-field", f"{text!r} is not a field name")
        if parts[0] in SCOPES and len(parts) > 1:
            return Path(parts[0], parts[1:])
        if left and self.item:
            return Path(ITEM, parts)
        return Path(DATA, parts)

    def operand(self) -> Operand:
        kind, value = self.take()
        if kind == "string":
            return value[1:-1]
        if kind == "number":
            return _number(value)
        if kind == "op" and value == "[":
            raise ConditionSyntaxError(
                "bad-operator", f"a list needs 'in' or 'not in', in {self.text!r}")
        if kind != "word":
            raise ConditionSyntaxError("bad-condition",
                                       f"expected a value after the operator in {self.text!r}")
        if value in ("true", "false"):
            return value == "true"
        head = value.split(".")[0]
        if head in SCOPES and "." in value:
            ref_path = self.path(value, left=False)
            offset = 0.0
            nxt = self.peek()
            if (nxt is not None and nxt == ("op", "+")) or (nxt is not None and nxt[1] == "-"):
                sign = 1 if self.take()[1] == "+" else -1
                kind_n, amount = self.take()
                if kind_n != "number":
                    raise ConditionSyntaxError(
                        "bad-duration", f"expected a number after '+' in {self.text!r}")
                unit = self.word("a unit (days, hours or minutes)")
                if unit not in UNITS:
                    raise ConditionSyntaxError(
                        "bad-duration",
                        f"unknown unit {unit!r} in {self.text!r}; use days, hours or minutes")
                offset = sign * float(amount) * UNITS[unit]
            return Ref(ref_path, offset)
        if "." in value and not self.item:
            raise ConditionSyntaxError(
                "bad-operand",
                f"{value!r} looks like a field; to compare with another field write it with "
                f"its prefix: 'data.{value}', 'event.…' or 'context.…' (in {self.text!r})")
        return value

    def values(self) -> tuple[tuple[Any, ...], str | None]:
        tok = self.peek()
        if tok == ("op", "["):
            self.take()
            items: list[Any] = []
            while True:
                kind, value = self.take()
                if kind == "op" and value == "]" and not items:
                    break
                if kind == "string":
                    items.append(value[1:-1])
                elif kind == "number":
                    items.append(_number(value))
                elif kind == "word":
                    items.append(value if value not in ("true", "false") else value == "true")
                else:
                    raise ConditionSyntaxError("bad-condition",
                                               f"unexpected {value!r} in a list in {self.text!r}")
                kind, value = self.take()
                if value == "]":
                    break
                if value != ",":
                    raise ConditionSyntaxError(
                        "bad-condition", f"expected ',' or ']' in a list in {self.text!r}")
            return tuple(items), None
        name = self.word("a list [a, b] or the name of a set")
        if name not in self.sets:
            raise ConditionSyntaxError(
                "unknown-set", f"{name!r} is not a set defined in the bundle"
                f"{suggestion(name, self.sets)} (in {self.text!r})")
        return tuple(self.sets[name]), name

    def simple(self) -> Node:
        path = self.path(self.word("a field name"), left=True)
        kind, op = self.take()
        if kind == "op" and op in COMPARATORS:
            return Compare(self.text, path, op, self.operand())
        if op == "is":
            negated = False
            if self.peek() == ("word", "not"):
                self.take()
                negated = True
            what = self.word("true, false, present or missing after 'is'")
            if what in ("true", "false"):
                cmp = Compare(self.text, path, "==", what == "true")
                return Group(self.text, "none", (cmp,)) if negated else cmp
            if what in ("present", "missing") and not negated:
                return Presence(self.text, path, what == "present")
            raise ConditionSyntaxError(
                "bad-operator", f"after 'is' write true, false, not true, not false, present or "
                f"missing; got {what!r} in {self.text!r}")
        if op == "in":
            values, set_name = self.values()
            return Member(self.text, path, values, False, set_name)
        if op == "not":
            self.word("'in' after 'not'")
            values, set_name = self.values()
            return Member(self.text, path, values, True, set_name)
        if op in ("contains", "lacks"):
            return Has(self.text, path, self.operand(), op == "lacks")
        known = [*COMPARATORS, "is", "in", "not in", "contains", "lacks"]
        raise ConditionSyntaxError(
            "unknown-operator", f"unknown operator {op!r}{suggestion(op, known)} in "
            f"{self.text!r}; known: ==, !=, <, <=, >, >=, in, not in, contains, lacks, "
            "is true/false/present/missing, any … where …")


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def parse_condition(text: str, sets: Mapping[str, Sequence[str]]) -> Node:
    """Parse one condition line; raise `ConditionSyntaxError` naming what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionSyntaxError("bad-condition", "a condition must be a non-empty line of text")
    text = " ".join(text.split())
    toks = _tokens(text)
    if toks and toks[0] == ("word", "any") and len(toks) > 2 and toks[2] == ("word", "where"):
        list_path = _Parser(text, sets).path(toks[1][1], left=True)
        inner_text = text.split(" where ", 1)[1]
        parts = re.split(r"\s+and\s+", inner_text)
        conditions = []
        for part in parts:
            parser = _Parser(part, sets, item=True)
            node = parser.simple()
            if not parser.done():
                raise ConditionSyntaxError(
                    "bad-condition", f"unexpected {parser.peek()[1]!r} in {text!r}"  # type: ignore[index]
                    "; join conditions on items with 'and'")
            conditions.append(node)
        return AnyItem(text, list_path, tuple(conditions))
    parser = _Parser(text, sets)
    node = parser.simple()
    if not parser.done():
        extra = parser.peek()
        assert extra is not None
        hint = ("; one condition per line (use 'any of:' for alternatives)"
                if extra[1] in ("and", "or") else "")
        raise ConditionSyntaxError("bad-condition",
                                   f"unexpected {extra[1]!r} in {text!r}{hint}")
    return node


# --------------------------------------------------------------------------- direct reading

def lookup(doc: Mapping[str, Any], path: Path) -> Any:
    """The value of `path` in a normalised document (see `_document.normalise`), or None."""
    node: Any = doc if path.scope == ITEM else doc.get(path.scope)
    for part in path.parts:
        if node.__class__ is not dict:
            return None
        node = node.get(part)
    return node


def _operand_value(operand: Operand, doc: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    if isinstance(operand, Ref):
        value = _value(operand.path, doc, root)
        if value is None:
            return None
        if operand.offset_seconds:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return None
            return value + operand.offset_seconds
        return value
    return operand


def _same_kind(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, num) and isinstance(b, num):
        return True
    return type(a) is type(b)


def _value(path: Path, doc: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    return lookup(doc if path.scope == ITEM else root, path)


def holds(node: Node, doc: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> bool:
    """The direct reading of `node` over a normalised document.

    `doc` is the document the node's own paths are read from (a list item inside
    ``any … where``); `root` is the whole event, for fields named with a prefix.
    """
    root = doc if root is None else root
    if isinstance(node, Group):
        results = (holds(c, doc, root) for c in node.items)
        if node.mode == "all":
            return all(results)
        if node.mode == "any":
            return any(results)
        return not any(results)
    if isinstance(node, Presence):
        return (_value(node.path, doc, root) is not None) == node.present
    if isinstance(node, AnyItem):
        items = _value(node.path, doc, root)
        if not isinstance(items, list):
            return False
        return any(isinstance(item, dict) and all(holds(c, item, root) for c in node.conditions)
                   for item in items)
    if isinstance(node, Has):
        items = _value(node.path, doc, root)
        value = _operand_value(node.operand, doc, root)
        if value is None:
            return False
        if not isinstance(items, list):
            return node.negated and items is None
        found = any(_same_kind(i, value) and i == value for i in items)
        return not found if node.negated else found
    if isinstance(node, Member):
        value = _value(node.path, doc, root)
        if value is None:
            return False
        found = any(_same_kind(value, v) and value == v for v in node.values)
        return not found if node.negated else found
    if isinstance(node, Compare):
        left = _value(node.path, doc, root)
        right = _operand_value(node.operand, doc, root)
        if left is None or right is None or not _same_kind(left, right):
            return False
        if node.op == "==":
            return bool(left == right)
        if node.op == "!=":
            return bool(left != right)
        if isinstance(left, (str, bool)) or isinstance(right, (str, bool)):
            return False
        return bool({"<": left < right, "<=": left <= right,
                     ">": left > right, ">=": left >= right}[node.op])
    raise TypeError(f"unknown condition node {node!r}")  # pragma: no cover
