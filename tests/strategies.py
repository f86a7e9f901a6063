"""Hypothesis strategies for schema-valid events and contexts, aimed at rule boundaries.

Values are drawn from the schema tree of an event type (``load_schema().types[t].tree``):
enum fields from their choices, every other field from *pools* that hold the literals the
rules compare with, the values of the context profiles, and the values where matchers
misbehave (texts that read as numbers or booleans, empty texts and lists, nulls, numbers
around every threshold, times around each other). Every field may also be absent or null.

Shrinking goes towards absent fields, so a failing example shrinks to the few fields that
matter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from mandate_rules._conditions import AnyItem, Compare, Group, Has, Member, Node, Ref
from mandate_rules._schema import (
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
)

BASE_TIME = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
_DAY = 86400
# Offsets from BASE_TIME, in seconds: equal, a second apart, and either side of the windows and
# shifts rules use (hours, 30 and 90 days), so `a > b + 30 days` meets its boundary.
TIME_OFFSETS: tuple[float, ...] = tuple(sorted({
    0, 1, -1, 0.5, 60, -60, 3600, -3600, 72 * 3600, 72 * 3600 + 1, _DAY, -_DAY,
    30 * _DAY, 30 * _DAY + 1, 30 * _DAY - 1, -30 * _DAY, -30 * _DAY - 1, 31 * _DAY,
    90 * _DAY, 90 * _DAY + 1, -90 * _DAY, 365 * _DAY, -(7 * 3600 + 59 * 60),
}))
# Texts where a matcher might coerce, trim or pattern-match instead of comparing.
SPECIAL_TEXTS: tuple[str, ...] = (
    "x", "7", "5", "100", "0", "1.5", "true", "false", "True", "yes", "no", "null", "none",
    " ", "a b", 'say "hi"', "back\\slash", "é", "%d", "$i", "*", ".", "true ", "false ",
)
# Numbers around zero, the edges of exact float arithmetic, and floats Python prints with an
# exponent (1e-05, 1e+16), which durable_rules' JSON reader cannot read as such (rules keep
# them out of their literals; see ConditionGenerator). Whole numbers stay within 64 bits:
# durable_rules saturates larger ones.
SPECIAL_NUMBERS: tuple[int | float, ...] = (
    0, 1, -1, 2, 0.5, -0.5, 0.1, 0.30000000000000004, 0.0001, 1e-05, -2.5e-07, 1000,
    1_000_000, 123456.789, 2**31, 2**53 - 1, -(2**53 - 1), 1e15, 999999999999999.9, 1e16,
    1.5e17, -3e20,
)


def format_time(when: dt.datetime, style: int = 0) -> str:
    """RFC 3339 text for `when` in one of several equivalent spellings."""
    if style == 1:  # another zone, same instant
        return when.astimezone(dt.timezone(dt.timedelta(hours=3))).isoformat()
    if style == 2 and when.hour == 0 and when.minute == 0 and when.second == 0 \
            and when.microsecond == 0:
        return when.date().isoformat()  # a bare date is midnight UTC
    text = when.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@attrs.frozen
class Pools:
    """The values drawn for fields that are not enums."""

    texts: tuple[str, ...]
    numbers: tuple[int | float, ...]
    times: tuple[dt.datetime, ...]
    areas: tuple[str, ...]
    countries: tuple[str, ...]

    def integers(self) -> tuple[int, ...]:
        return tuple(n for n in self.numbers if isinstance(n, int))


def _boundaries(value: float) -> list[int | float]:
    out: list[int | float] = [value, value + 1, value - 1, value + 0.5, value - 0.5]
    if isinstance(value, int):
        out.append(float(value))
    else:
        out.append(value + 0.001)
    return out


def literals(nodes: Iterable[Node]) -> tuple[set[str], set[int | float]]:
    """The texts and numbers that the conditions in `nodes` compare with."""
    texts: set[str] = set()
    numbers: set[int | float] = set()

    def add(value: Any) -> None:
        if isinstance(value, (bool, Ref)):
            return
        if isinstance(value, str):
            texts.add(value)
        elif isinstance(value, (int, float)):
            numbers.add(value)

    def walk(node: Node) -> None:
        if isinstance(node, Group):
            for sub in node.items:
                walk(sub)
        elif isinstance(node, AnyItem):
            for sub in node.conditions:
                walk(sub)
        elif isinstance(node, (Compare, Has)):
            add(node.operand)
        elif isinstance(node, Member):
            for value in node.values:
                add(value)

    for node in nodes:
        walk(node)
    return texts, numbers



def _profile_values(value: Any, texts: set[str], numbers: set[int | float]) -> None:
    if isinstance(value, Mapping):
        for sub in value.values():
            _profile_values(sub, texts, numbers)
    elif isinstance(value, (list, tuple)):
        for sub in value:
            _profile_values(sub, texts, numbers)
    elif isinstance(value, str):
        texts.add(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        numbers.add(value)


def enum_words(tree: Mapping[str, Any], into: set[str]) -> set[str]:
    for node in tree.values():
        if isinstance(node, Kind):
            into.update(node.choices)
            if node.item is not None:
                into.update(node.item.choices)
        elif isinstance(node, ObjectList):
            enum_words(node.fields, into)
        elif isinstance(node, Mapping):
            enum_words(node, into)
    return into


def make_pools(nodes: Iterable[Node], *, profiles: Iterable[Any] = (),
               trees: Iterable[Mapping[str, Any]] = (),
               extra_texts: Iterable[str] = (), extra_numbers: Iterable[float] = ()) -> Pools:
    """Pools seeded with the literals of `nodes`, the values of `profiles` (ContextProfile)
    and the enum words of `trees` (so a text field can equal an enum field it is compared
    with)."""
    texts, numbers = literals(nodes)
    texts.update(extra_texts)
    numbers.update(extra_numbers)
    areas: set[str] = {"SO-BN", "SO-SA", "PH-07", "AF-KBL"}
    for profile in profiles:
        _profile_values(profile.values, texts, numbers)
        for area, values in profile.areas.items():
            areas.add(area)
            _profile_values(values, texts, numbers)
    words: set[str] = set()
    for tree in trees:
        enum_words(tree, words)
    texts.update(words)
    texts.update(SPECIAL_TEXTS)
    texts.update(areas)
    texts.add("")
    all_numbers: set[int | float] = set(SPECIAL_NUMBERS)
    for number in numbers:
        all_numbers.update(_boundaries(number))
    all_numbers = {n for n in all_numbers if not isinstance(n, int) or abs(n) < 2**63}
    times = tuple(BASE_TIME + dt.timedelta(seconds=o) for o in TIME_OFFSETS)
    return Pools(texts=tuple(sorted(texts)), numbers=tuple(sorted(all_numbers, key=repr)),
                 times=times, areas=tuple(sorted(areas)),
                 countries=("SOM", "PHL", "KEN", "AFG", "ZZZ"))


# --------------------------------------------------------------------------- values
#
# Strategies are built once per (schema node, pools) and reused: building them while drawing
# costs hypothesis more than the whole differential check.

_CACHE: dict[tuple[Any, ...], st.SearchStrategy[Any]] = {}


def _cached(key: tuple[Any, ...], build: Any) -> st.SearchStrategy[Any]:
    strategy = _CACHE.get(key)
    if strategy is None:
        strategy = _CACHE[key] = build()
    return strategy


def texts(pools: Pools) -> st.SearchStrategy[str]:
    return _cached(("texts", pools), lambda: st.one_of(
        st.sampled_from(SPECIAL_TEXTS), st.sampled_from(pools.texts),
        # Any text an event may carry: NUL is refused at the edge (no store can keep it).
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=4)))


def times(pools: Pools) -> st.SearchStrategy[str]:
    return _cached(("times", pools), lambda: st.builds(
        format_time, st.sampled_from(pools.times), st.integers(0, 2)))


def event_times(pools: Pools) -> st.SearchStrategy[str]:
    """Times for the envelope's `time`: a full date-time, never a bare date (which `data`
    time fields may be, but CloudEvents' `time` may not)."""
    return _cached(("event times", pools), lambda: st.builds(
        format_time, st.sampled_from(pools.times), st.integers(0, 1)))


def numbers(pools: Pools, *, integer: bool) -> st.SearchStrategy[int | float]:
    def build() -> st.SearchStrategy[int | float]:
        if integer:
            return st.one_of(st.sampled_from(pools.integers()), st.integers(-1000, 1000))
        finite = st.floats(min_value=-1e20, max_value=1e20, allow_nan=False,
                           allow_infinity=False)
        return st.one_of(st.sampled_from(pools.numbers), st.integers(-1000, 1000), finite)
    return _cached(("numbers", pools, integer), build)


def value(kind: Kind | ObjectList | Mapping[str, Any], pools: Pools) -> st.SearchStrategy[Any]:
    """A non-missing value of `kind` (it may still be empty: ``""``, ``[]``, ``{}``)."""
    return _cached(("value", id(kind), pools), lambda: _value(kind, pools))


def _value(kind: Kind | ObjectList | Mapping[str, Any], pools: Pools) -> st.SearchStrategy[Any]:
    if isinstance(kind, ObjectList):
        return st.lists(obj(kind.fields, pools), max_size=3)
    if isinstance(kind, Mapping):
        return obj(kind, pools)
    name = kind.name
    if name == TEXT:
        return texts(pools)
    if name == BOOL:
        return st.booleans()
    if name == NUMBER:
        return numbers(pools, integer=False)
    if name == INTEGER:
        return numbers(pools, integer=True)
    if name == TIME:
        return times(pools)
    if name == ENUM:
        return st.sampled_from(sorted(kind.choices))
    if name == BOOL_OR_TEXT:
        return st.one_of(st.booleans(), texts(pools))
    if name == LIST:
        assert kind.item is not None
        return st.lists(value(kind.item, pools), max_size=4)
    raise AssertionError(name)


def obj(tree: Mapping[str, Any], pools: Pools, required: Sequence[str] = (),
        prefix: str = "") -> st.SearchStrategy[dict[str, Any]]:
    """An object with the fields of `tree`: each one absent, null, or (most often) a value.

    Fields named in `required` (dotted, from the top of the event's data) are always present
    and never empty. Shrinking drops fields, then turns values into nulls.
    """
    return _cached(("obj", id(tree), pools, tuple(required), prefix),
                   lambda: _obj(tree, pools, tuple(required), prefix))


def _obj(tree: Mapping[str, Any], pools: Pools, required: tuple[str, ...],
         prefix: str) -> st.SearchStrategy[dict[str, Any]]:
    always: dict[str, st.SearchStrategy[Any]] = {}
    maybe: dict[str, st.SearchStrategy[Any]] = {}
    for name, node in tree.items():
        path = prefix + name
        needed = any(r == path or r.startswith(path + ".") for r in required)
        if isinstance(node, Mapping) and not isinstance(node, ObjectList):
            inner = obj(node, pools, required, path + ".")
            if needed:
                always[name] = inner
            else:
                maybe[name] = st.one_of(inner, inner, st.just({}), st.none())
            continue
        drawn = value(node, pools)
        if needed:
            always[name] = drawn.filter(_non_empty)
        else:
            maybe[name] = st.one_of(drawn, drawn, drawn, st.none())
    return st.fixed_dictionaries(always, optional=maybe)


def _non_empty(value: Any) -> bool:
    return value is not None and value != "" and value != []


# --------------------------------------------------------------------------- events

def cloud_events(event_type: str, tree: Mapping[str, Any], required: Sequence[str],
                 pools: Pools) -> st.SearchStrategy[dict[str, Any]]:
    """CloudEvents dicts of `event_type` whose data fits the schema."""
    def build() -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"specversion": st.just("1.0"),
             # No control characters: an event's id is a name, and names may not hold one.
             "id": st.sampled_from(["e1", "e2", "7", "true"]) | st.text(
                 st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=6),
             "source": st.sampled_from(["urn:test:a", "urn:test:b"]),
             "type": st.just(event_type),
             "time": event_times(pools),
             "country": st.sampled_from(pools.countries),
             "data": obj(tree, pools, required)},
            optional={"subject": st.sampled_from([t for t in pools.texts if t]),
                      "area": st.sampled_from(pools.areas)})
    return _cached(("event", event_type, id(tree), pools, tuple(required)), build)


def contexts(context_tree: Mapping[str, Any], pools: Pools,
             profiles: Sequence[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    """(label, context values): an unknown operation, a shipped profile in some area, or random
    values of the context fields."""
    def build() -> st.SearchStrategy[tuple[str, Any]]:
        unknown = st.just(("unknown operation", {}))
        if not profiles:
            shipped = unknown
        else:
            shipped = st.builds(lambda p, area: (f"profile {p.country} area {area}",
                                                 p.resolve(area)),
                                st.sampled_from(list(profiles)),
                                st.none() | st.sampled_from(pools.areas))
        drawn = obj(context_tree, pools).map(lambda values: ("random context", values))
        return st.one_of(unknown, shipped, drawn)
    return _cached(("contexts", id(context_tree), pools, tuple(id(p) for p in profiles)), build)
