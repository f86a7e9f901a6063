"""Field/value tables of feature files into event data and context values.

A table has the header row ``| field | value |`` and one row per field, named as in the
catalogue (``provider.kind``), with ``vehicles[1].markings`` for a field of the first item of a
list of objects and ``event.area`` for an attribute of the event's envelope. Each value is read
according to its field's kind in ``event_types.yaml`` (`VALUE_FORMS`); an empty value cell
leaves the field out. Every mistake raises `SpecError` naming the row and its line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from .._models import MAX_YEAR, MIN_YEAR, format_time
from .._schema import (
    BOOL,
    BOOL_OR_TEXT,
    ENUM,
    INTEGER,
    LIST,
    NUMBER,
    TEXT,
    TIME,
    Kind,
    ObjectList,
    leaf_paths,
)
from .errors import SpecError

__all__ = [
    "ENVELOPE_FIELDS",
    "MAX_ITEMS",
    "VALUE_FORMS",
    "YEARS",
    "Row",
    "TableValues",
    "bounded_int",
    "convert",
    "parse_moment",
    "read_rows",
    "read_table",
    "shifted",
]

# The most items a table may give a list of objects (`vehicles[1000].markings`): the list is
# built up to the highest number given, so a number far beyond any real list is a mistake.
MAX_ITEMS = 1000
# The years a time may fall in, as in the engine (an event outside them is refused).
YEARS = f"the years {MIN_YEAR} to {MAX_YEAR}"

# What policy staff write for each kind of field: (kind, how, example). Printed by the phrasebook.
VALUE_FORMS: tuple[tuple[str, str, str], ...] = (
    ("yes/no", "yes or no", "armed | yes"),
    ("number", "a number", "terms.separation_m | 50"),
    ("one of a list of words", "the word, as in the catalogue", "decision.status | approved"),
    ("list", "words separated by commas", "alternatives_considered | route_change, postpone"),
    ("time", "a date (midnight UTC), a date-time (UTC unless a zone is given), `now`, or a "
             "shift from now in minutes, hours, days or weeks",
     "2026-11-20, 2026-11-20T10:00Z, +10 days, -3 hours"),
    ("item of a list of objects", "the list, the item number in brackets (from 1 to "
     f"{MAX_ITEMS}), the field", "vehicles[1].markings | unmarked"),
    ("the event's envelope", "`event.` and the attribute: area, subject, time or id",
     "event.area | SO-BN"),
    ("any", "an empty value cell leaves the field out", "review.date |"),
)

# Envelope attributes a table may set with `event.<name>`.
ENVELOPE_FIELDS = ("area", "subject", "time", "id")

_SEGMENT_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_SHIFT_RE = re.compile(r"^([+-])\s*(\d+)\s*(minute|minutes|hour|hours|day|days|week|weeks)$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_YES = ("yes", "true")
_NO = ("no", "false")
_UNIT_SECONDS = MappingProxyType({"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400})


@attrs.frozen
class Row:
    """One field/value row: its number in the table (1 = first after the header) and line."""

    number: int
    line: int | None
    field: str
    value: str
    # how messages name the row when it is not in a table (a value given in a sentence)
    label: str | None = None

    @property
    def where(self) -> str:
        if self.label is not None:
            return self.label
        at = f" (line {self.line})" if self.line is not None else ""
        return f"row {self.number} of the table{at}, `{self.field}`"


@attrs.frozen
class TableValues:
    """What a table said: the nested values and the envelope attributes (`event.<name>`)."""

    values: dict[str, Any]
    envelope: dict[str, str]


def read_rows(cells: Sequence[Sequence[str]], lines: Sequence[int | None]) -> list[Row]:
    """The rows under the ``| field | value |`` header; `lines` gives each raw row's line."""
    if not cells:
        raise SpecError("the table is empty: it needs the header row | field | value | and one "
                        "row per field")
    head = [c.strip().lower() for c in cells[0]]
    if head != ["field", "value"]:
        shown = " | ".join(cells[0])
        raise SpecError(f"the table must start with the header row | field | value |; its first "
                        f"row (line {lines[0]}) is | {shown} |")
    rows = []
    for number, (raw, line) in enumerate(zip(cells[1:], lines[1:], strict=True), start=1):
        rows.append(Row(number, line, raw[0].strip(), raw[1].strip()))
    return rows


def read_table(rows: Sequence[Row], tree: Mapping[str, Any], what: str, now: dt.datetime, *,
               envelope: bool) -> TableValues:
    """Turn `rows` into values shaped like `tree` (an event type's or the context's fields).

    `what` names the thing described (``an escort request``) in messages. With `envelope`,
    ``event.<attribute>`` rows are allowed and returned apart.
    """
    seen: dict[str, Row] = {}
    values: dict[str, Any] = {}
    env: dict[str, str] = {}
    lists: dict[tuple[str, ...], Row] = {}
    for row in rows:
        if not row.field:
            raise SpecError(f"row {row.number} of the table"
                            f"{_at(row)} has a value but no field name")
        previous = seen.get(row.field)
        if previous is not None:
            raise SpecError(f"{row.where} is given twice (also {previous.where}); give each "
                            "field once")
        seen[row.field] = row
        if row.field.startswith("event."):
            if not envelope:
                raise SpecError(f"{row.where}: `event.` fields belong to events; a context "
                                "profile has none")
            name = row.field[len("event."):]
            if name not in ENVELOPE_FIELDS:
                raise SpecError(f"{row.where}: the event's envelope has no `{name}` a table can "
                                f"set; use one of: " + ", ".join(f"event.{n}" for n in
                                                                ENVELOPE_FIELDS))
            if row.value:
                env[name] = parse_moment(row.value, now, row) if name == "time" else row.value
            continue
        segments = _segments(row)
        kind = _resolve(tree, segments, row, what)
        if not row.value:
            continue  # an empty cell leaves the field out
        _put(values, segments, convert(kind, row.value, now, row), lists, row)
    for path, first in lists.items():
        items = _get(values, path)
        for index, item in enumerate(items, start=1):
            if not item:
                name = ".".join(path)
                raise SpecError(f"{first.where}: `{name}[{index}]` has no fields, but a later "
                                f"item of `{name}` has; number the items from 1 without gaps")
    return TableValues(values, env)


def convert(kind: Kind, text: str, now: dt.datetime, row: Row) -> Any:
    """The value `text` means for a field of `kind`."""
    text = text.strip()
    if kind.name == BOOL:
        return _yes_no(text, row)
    if kind.name == BOOL_OR_TEXT:
        lowered = text.lower()
        if lowered in _YES or lowered in _NO:
            return lowered in _YES
        return text
    if kind.name == INTEGER:
        if not _INT_RE.match(text):
            raise SpecError(f"{row.where}: expected a whole number, got '{text}'")
        return _whole(text, row)
    if kind.name == NUMBER:
        if _INT_RE.match(text):
            return _whole(text, row)
        if _FLOAT_RE.match(text):
            number = float(text)
            if math.isinf(number):
                raise SpecError(f"{row.where}: '{text}' is too large a number to work with "
                                f"(the largest is about {sys.float_info.max:.1e})")
            return number
        raise SpecError(f"{row.where}: expected a number, got '{text}'")
    if kind.name == TIME:
        return parse_moment(text, now, row)
    if kind.name == ENUM:
        return _word(kind, text, row)
    if kind.name == LIST:
        assert kind.item is not None
        items = [part.strip() for part in text.split(",")]
        return [convert(kind.item, item, now, row) for item in items if item]
    if kind.name == TEXT:
        return text
    raise AssertionError(f"unknown kind {kind.name}")  # pragma: no cover - schema is fixed


def parse_moment(text: str, now: dt.datetime, row: Row | None = None) -> str:
    """A time as RFC 3339 text: a date, a date-time (UTC unless zoned), `now`, or ``+3 days``."""
    text = text.strip()
    where = f"{row.where}: " if row is not None else ""
    if text.lower() == "now":
        return format_time(now)
    shift = _SHIFT_RE.match(text.lower())
    if shift:
        sign, amount, unit = shift.groups()
        return format_time(shifted(now, bounded_int(amount) * (1 if sign == "+" else -1), unit,
                                   where=where))
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise SpecError(f"{where}'{text}' is not a date that exists") from None
        _in_years(day.year, text, where)
        return text
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SpecError(f"{where}expected a time: a date (2026-11-20), a date-time "
                        f"(2026-11-20T10:00Z), `now`, or a shift such as `+10 days` or "
                        f"`-3 hours`; got '{text}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    _in_years(moment.astimezone(dt.UTC).year, text, where)
    return format_time(moment)


def shifted(now: dt.datetime, amount: int, unit: str, *, where: str = "") -> dt.datetime:
    """`now` moved by `amount` (negative: back) minutes, hours, days or weeks (`unit`).

    Raises `SpecError` when the result falls outside the years the engine takes; `where`
    (``row 2 of the table (line 7), `review.date`: ``) starts the message.
    """
    seconds = amount * _UNIT_SECONDS[unit.rstrip("s")]
    written = f"{'+' if amount >= 0 else '-'}{abs(amount)} {unit}"
    try:
        moment = now + dt.timedelta(seconds=seconds)
    except OverflowError:  # beyond the calendar (year 9999) altogether
        moment = None
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        beyond = f"beyond the year {MAX_YEAR}" if amount > 0 else f"before the year {MIN_YEAR}"
        raise SpecError(f"{where}{written} from {format_time(now)} is {beyond}; times must "
                        f"stay within {YEARS}")
    return moment


def bounded_int(digits: str) -> int:
    """The whole number `digits`, or 10**30 for one too long for Python to read (over 4300
    digits): every caller bounds the number far below, and says it is too large."""
    if len(digits.lstrip("+-")) > 30:
        return -(10 ** 30) if digits.startswith("-") else 10 ** 30
    return int(digits)


def _whole(text: str, row: Row) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python reads (4300)
        raise SpecError(f"{row.where}: '{text[:20]}…' ({len(text)} digits) is too large a "
                        "number to work with") from None


def _in_years(year: int, text: str, where: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise SpecError(f"{where}'{text}' is in the year {year}; times must stay within "
                        f"{YEARS}")


def example_paths(tree: Mapping[str, Any]) -> list[str]:
    """Every field of `tree` as written in a table (``vehicles[1].markings``)."""
    return [p.replace("[].", "[1].") for p in leaf_paths(tree)
            if not isinstance(_node(tree, p), ObjectList)]


# --------------------------------------------------------------------------- internals

def _at(row: Row) -> str:
    return f" (line {row.line})" if row.line is not None else ""


def _yes_no(text: str, row: Row) -> bool:
    lowered = text.lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise SpecError(f"{row.where}: expected yes or no, got '{text}'")


def _word(kind: Kind, text: str, row: Row) -> str:
    if text in kind.choices:
        return text
    choices = sorted(kind.choices)
    close = difflib.get_close_matches(text, choices, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise SpecError(f"{row.where}: '{text}' is not one of the words this field takes{hint}\n"
                    f"It takes: {', '.join(choices)}")


def _segments(row: Row) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for part in row.field.split("."):
        match = _SEGMENT_RE.match(part)
        if not match:
            raise SpecError(f"{row.where}: '{part}' is not a field name; write fields as in the "
                            "catalogue, e.g. provider.kind or vehicles[1].markings")
        index = bounded_int(match.group(2)) if match.group(2) is not None else None
        if index == 0:
            raise SpecError(f"{row.where}: items are numbered from 1: write "
                            f"{match.group(1)}[1] for the first one")
        if index is not None and index > MAX_ITEMS:
            raise SpecError(f"{row.where}: item {index} is too high a number; a table may give "
                            f"a list at most {MAX_ITEMS} items, numbered from 1")
        out.append((match.group(1), index))
    return out


def _resolve(tree: Mapping[str, Any], segments: Sequence[tuple[str, int | None]], row: Row,
             what: str) -> Kind:
    node: Mapping[str, Any] = tree
    for position, (name, index) in enumerate(segments):
        last = position == len(segments) - 1
        done = ".".join(n if i is None else f"{n}[{i}]" for n, i in segments[:position + 1])
        if name not in node:
            raise SpecError(f"{row.where}: {what} has no field `{row.field}`"
                            + _close_fields(row.field, tree))
        child = node[name]
        if isinstance(child, ObjectList):
            first = next(iter(child.fields), "…")
            if index is None:
                raise SpecError(f"{row.where}: `{done}` is a list of items; name the item and "
                                f"its field, e.g. `{done}[1].{first}` for the first one")
            if last:
                raise SpecError(f"{row.where}: `{done}` is an item with fields; name one, e.g. "
                                f"`{done}.{first}`")
            node = child.fields
            continue
        if index is not None:
            raise SpecError(f"{row.where}: `{name}` is not a list of items; remove `[{index}]`")
        if isinstance(child, Kind):
            if not last:
                raise SpecError(f"{row.where}: `{done}` is a single value; it has no fields")
            return child
        if last:
            first = next(iter(child), "…")
            raise SpecError(f"{row.where}: `{done}` is a group of fields; name one, e.g. "
                            f"`{done}.{first}`")
        node = child
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


def _close_fields(field: str, tree: Mapping[str, Any]) -> str:
    normal = re.sub(r"\[\d+\]", "[1]", field)
    close = difflib.get_close_matches(normal, example_paths(tree), n=2, cutoff=0.7)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


def _node(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.replace("[]", "").split("."):
        if isinstance(node, ObjectList):
            node = node.fields
        node = node[part]
    return node


def _put(doc: dict[str, Any], segments: Sequence[tuple[str, int | None]], value: Any,
         lists: dict[tuple[str, ...], Row], row: Row) -> None:
    node: dict[str, Any] = doc
    path: list[str] = []
    for position, (name, index) in enumerate(segments):
        path.append(name)
        last = position == len(segments) - 1
        if index is None:
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
            continue
        lists.setdefault(tuple(path), row)
        items: list[dict[str, Any]] = node.setdefault(name, [])
        while len(items) < index:
            items.append({})
        node = items[index - 1]


def _get(doc: Mapping[str, Any], path: Sequence[str]) -> list[dict[str, Any]]:
    node: Any = doc
    for name in path:
        node = node[name]
    assert isinstance(node, list)
    return node
