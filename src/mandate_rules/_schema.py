"""The event-type schema: which `data` fields each event type has, and of what kind.

Read from ``event_types.yaml`` (docs/event-fields.md is generated from it). The same schema
validates incoming events, tells the rule-pack loader which fields a condition may name,
and tells the compiler which fields hold times (compared as numbers inside the matcher).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

import attrs
from ruamel.yaml import YAML

from ._resources import event_types_text

TEXT, BOOL, NUMBER, INTEGER, TIME, ENUM, LIST, BOOL_OR_TEXT = (
    "text", "bool", "number", "integer", "time", "enum", "list", "bool_or_text",
)

_KIND_WORDS = MappingProxyType({
    "text": TEXT,
    "yes/no": BOOL,
    "number": NUMBER,
    "integer": INTEGER,
    "time": TIME,
    "yes/no or text": BOOL_OR_TEXT,
})

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@attrs.frozen
class Kind:
    """The kind of one field's value."""

    name: str
    choices: frozenset[str] = frozenset()
    item: Kind | None = None

    def describe(self) -> str:
        if self.name == ENUM:
            return "one of " + ", ".join(sorted(self.choices))
        if self.name == LIST and self.item is not None:
            return "a list of " + self.item.describe_plural()
        return {
            TEXT: "a text",
            BOOL: "yes/no (true or false)",
            NUMBER: "a number",
            INTEGER: "a whole number",
            TIME: "an RFC 3339 date-time or date",
            BOOL_OR_TEXT: "yes/no or a text",
        }[self.name]

    def describe_plural(self) -> str:
        if self.name == ENUM:
            return "words from: " + ", ".join(sorted(self.choices))
        return {TEXT: "texts", NUMBER: "numbers", INTEGER: "whole numbers", TIME: "times",
                BOOL: "yes/no values", BOOL_OR_TEXT: "yes/no values or texts"}[self.name]

    def is_numeric(self) -> bool:
        return self.name in (NUMBER, INTEGER, TIME)

    def check(self, value: Any) -> str | None:
        """None when `value` fits this kind, else what was wrong with it."""
        ok: bool
        if self.name == TEXT:
            ok = isinstance(value, str)
        elif self.name == BOOL:
            ok = isinstance(value, bool)
        elif self.name == NUMBER:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif self.name == INTEGER:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.name == TIME:
            ok = isinstance(value, str) and parse_time(value) is not None
        elif self.name == BOOL_OR_TEXT:
            ok = isinstance(value, (bool, str))
        elif self.name == ENUM:
            ok = isinstance(value, str) and value in self.choices
        elif self.name == LIST:
            if not isinstance(value, list):
                ok = False
            else:
                assert self.item is not None
                for index, item in enumerate(value):
                    if self.item.check(item) is not None:
                        return (f"item {index} should be {self.item.describe()}, "
                                f"got {_show(item)}")
                ok = True
        else:  # pragma: no cover - the schema file is validated when read
            raise AssertionError(self.name)
        return None if ok else f"expected {self.describe()}, got {_show(value)}"


@attrs.frozen
class ObjectList:
    """A list of objects (``vehicles[]``): each item has the fields in `fields`."""

    fields: Mapping[str, Any]  # name -> Kind | ObjectList | nested dict (object)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return str(value)


def parse_time(text: str) -> dt.datetime | None:
    """An aware datetime from RFC 3339 text (a bare date is midnight UTC), else None."""
    try:
        if _DATE_RE.match(text):
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        if "T" not in text and "t" not in text:
            return None
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _kind_from_word(word: Any, actors: frozenset[str]) -> Kind:
    if isinstance(word, list):
        return Kind(ENUM, frozenset(str(w) for w in word))
    text = str(word)
    if text.startswith("list of "):
        return Kind(LIST, item=_kind_from_word(_list_item(text[len("list of "):]), actors))
    if text == "actor":
        return Kind(ENUM, actors)
    if text == "actor or none":
        return Kind(ENUM, actors | {"none"})
    if text in _KIND_WORDS:
        return Kind(_KIND_WORDS[text])
    raise ValueError(f"event_types.yaml: unknown kind {text!r}")


def _list_item(text: str) -> Any:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [w.strip() for w in text[1:-1].split(",") if w.strip()]
    return text


def _insert(tree: dict[str, Any], path: str, kind: Kind) -> None:
    """Put `kind` at dotted `path` in `tree`, creating objects and object lists on the way."""
    head, _, rest = path.partition(".")
    if not rest:
        tree[head] = kind
        return
    if head.endswith("[]"):
        name = head[:-2]
        node = tree.setdefault(name, ObjectList({}))
        assert isinstance(node, ObjectList)
        _insert(node.fields, rest, kind)  # type: ignore[arg-type]
    else:
        node = tree.setdefault(head, {})
        _insert(node, rest, kind)


@attrs.frozen
class EventType:
    """The schema of one event type's `data`."""

    name: str
    required: tuple[str, ...]
    tree: Mapping[str, Any]
    carries_context: bool = False


@attrs.frozen
class Schema:
    """All event types, the actor taxonomy and the context-profile fields."""

    types: Mapping[str, EventType]
    context_tree: Mapping[str, Any]
    actors: frozenset[str]

    def event_type(self, name: str) -> EventType | None:
        return self.types.get(name)

    def lookup(self, tree: Mapping[str, Any], path: str) -> Kind | ObjectList | None:
        """The kind at dotted `path` in `tree` (an object list for ``vehicles``), or None."""
        node: Any = tree
        for part in path.split("."):
            if isinstance(node, ObjectList):
                node = node.fields
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        if isinstance(node, Mapping):
            return None  # an object, not a value: conditions compare values
        return node  # type: ignore[no-any-return]

    def data_kind(self, event_type: str, path: str) -> Kind | ObjectList | None:
        et = self.types.get(event_type)
        return None if et is None else self.lookup(et.tree, path)

    def context_kind(self, path: str) -> Kind | ObjectList | None:
        return self.lookup(self.context_tree, path)

    def data_paths(self, event_type: str) -> list[str]:
        et = self.types.get(event_type)
        return [] if et is None else list(leaf_paths(et.tree))

    def context_paths(self) -> list[str]:
        return list(leaf_paths(self.context_tree))

    def validate_data(self, event_type: str, data: Any) -> list[tuple[str, str]]:
        """Every problem in `data` for `event_type`, as (field path, message)."""
        et = self.types[event_type]
        if data is None:
            data = {}
        if not isinstance(data, dict):
            return [("data", f"expected an object, got {_show(data)}")]
        problems: list[tuple[str, str]] = []
        for path in et.required:
            value = get_path(data, path)
            if value is None or value == "" or value == []:
                problems.append((f"data.{path}", f"required for {event_type}, but missing"))
        _validate_tree(et.tree, data, "data", problems)
        return problems


def leaf_paths(tree: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for name, node in tree.items():
        path = f"{prefix}{name}"
        if isinstance(node, Kind):
            yield path
        elif isinstance(node, ObjectList):
            yield path
            for sub in leaf_paths(node.fields):
                yield f"{path}[].{sub}"
        else:
            yield from leaf_paths(node, path + ".")


def get_path(doc: Any, path: str) -> Any:
    """The value at dotted `path` in nested mappings, or None when any step is absent."""
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def _validate_tree(tree: Mapping[str, Any], doc: Mapping[str, Any], where: str,
                   problems: list[tuple[str, str]]) -> None:
    for name, node in tree.items():
        if name not in doc or doc[name] is None:
            continue  # absent and null are the same: not known
        value = doc[name]
        if node.__class__ is Kind:
            error = node.check(value)
            if error:
                problems.append((f"{where}.{name}", error))
            continue
        path = f"{where}.{name}"
        if isinstance(node, ObjectList):
            if not isinstance(value, list):
                problems.append((path, f"expected a list of objects, got {_show(value)}"))
                continue
            for index, item in enumerate(value):
                if not isinstance(item, dict):
                    problems.append((f"{path}[{index}]", f"expected an object, got {_show(item)}"))
                else:
                    _validate_tree(node.fields, item, f"{path}[{index}]", problems)
        elif not isinstance(value, dict):
            problems.append((path, f"expected an object, got {_show(value)}"))
        else:
            _validate_tree(node, value, path, problems)


@cache
def load_schema() -> Schema:
    """The schema shipped with the package (read once per process; it never changes)."""
    text = event_types_text()
    raw = YAML(typ="safe").load(text)
    actors = frozenset(raw["actors"])
    common_tree: dict[str, Any] = {}
    for path, word in raw["common"]["fields"].items():
        _insert(common_tree, path, _kind_from_word(word, actors))
    context_tree: dict[str, Any] = {}
    for path, word in raw["context"].items():
        _insert(context_tree, path, _kind_from_word(word, actors))
    types: dict[str, EventType] = {}
    for name, spec in raw["types"].items():
        with_common = spec.get("common", True)
        tree: dict[str, Any] = {}
        if with_common:
            for path, word in raw["common"]["fields"].items():
                _insert(tree, path, _kind_from_word(word, actors))
        for path, word in (spec.get("fields") or {}).items():
            _insert(tree, path, _kind_from_word(word, actors))
        carries_context = bool(spec.get("context_fields", False))
        if carries_context:
            for path, word in raw["context"].items():
                _insert(tree, path, _kind_from_word(word, actors))
        required = tuple(raw["common"]["required"] if with_common else ()) + tuple(
            spec.get("required") or ())
        types[name] = EventType(name, required, tree, carries_context)
    return Schema(types=types, context_tree=context_tree, actors=actors)
