"""What an event's content may hold, and its frozen form: the checks every event passes.

Names (ids, sources, subjects) must be valid Unicode without control characters and of a
bounded length; texts anywhere must be valid Unicode (no lone surrogate); numbers must be
finite doubles. `content_problems` names every offending path; `content_hash` is the hash a
re-delivery is recognised by; `freeze` and `thaw` turn JSON-like data into its read-only
form and back.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["MAX_ATTRIBUTE_LENGTH", "NOT_CONTENT", "RECORD_URL_ATTRIBUTE", "FrozenOnRead",
           "content_hash", "content_problems", "freeze", "name_problem", "shown", "text_problem",
           "thaw"]

# Extension attributes that say where the record can be seen, not what it says: an adapter
# upgraded to send the record's web address (`recordurl`), or given another address, re-reads
# records it sent before; that re-delivery is the same content, not a conflict.
#: The extension attribute that carries the web address of the event's record (`subject`).
RECORD_URL_ATTRIBUTE = "recordurl"
NOT_CONTENT = frozenset({RECORD_URL_ATTRIBUTE})
# Envelope attributes name things (an event, a system, a subject): a name longer than this
# is a mistake or an attack, and SQLite, durable_rules and every log line would carry it.
MAX_ATTRIBUTE_LENGTH = 1024
# A lone UTF-16 surrogate (JSON lets `\ud800` through) is no Unicode text: neither SQLite
# nor durable_rules can encode it, so it is refused before anything stores or matches it.
# So is NUL (JSON's `\u0000`), in any text: PostgreSQL can neither store it nor read it out
# of JSON, and durable_rules' C core ends its strings with it.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
# C0 and C1 control characters and DEL: never part of a name, and a line break in an id or
# a source forges lines in logs and exports.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


# Every event is frozen once and thawed once when read: the exact JSON classes are tested
# first, because `isinstance` against the `Mapping` ABC cost more than the copy itself.
_SCALARS = frozenset({str, int, float, bool, type(None)})
_MAPPINGS = frozenset({dict, MappingProxyType})


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON-like data, so a frozen model stays frozen all the way down."""
    cls = value.__class__
    if cls in _SCALARS or cls is FrozenOnRead:
        return value
    if cls in _MAPPINGS or isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if cls is list or cls is tuple or isinstance(value, (list, tuple)):
        return tuple([freeze(v) for v in value])
    return value


class FrozenOnRead(Mapping[str, Any]):
    """`freeze(plain)`, made the first time it is read.

    For the data of an event read from a log (`Event.from_text`): the engine matches the
    plain dicts it was parsed into, and rebuilding state from a log never reads the frozen
    view, whose deep copy was a tenth of the rebuild. `plain` must be held by nobody who
    changes it (the engine only reads it).
    """

    __slots__ = ("_frozen", "_plain")

    def __init__(self, plain: dict[str, Any]) -> None:
        self._plain = plain
        self._frozen: Mapping[str, Any] | None = None

    def _view(self) -> Mapping[str, Any]:
        frozen = self._frozen
        if frozen is None:
            frozen = self._frozen = freeze(self._plain)
        return frozen

    def __getitem__(self, key: str) -> Any:
        return self._view()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._plain)

    def __repr__(self) -> str:
        return repr(self._view())


def thaw(value: Any) -> Any:
    """Plain dicts and lists from data frozen by `freeze` (for JSON output and matching)."""
    cls = value.__class__
    if cls in _SCALARS:
        return value
    if cls in _MAPPINGS or isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if cls is tuple or isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def shown(text: str) -> str:
    """`text` with lone surrogates and control characters written as escapes, so that a
    message or a path naming a bad key can itself be encoded and read."""
    if _SURROGATE_RE.search(text) or _CONTROL_RE.search(text):
        return text.encode("unicode_escape").decode("ascii")
    return text


def text_problem(value: str) -> str | None:
    """What makes `value` a text no store can keep (a lone surrogate, a NUL), or None."""
    found = _UNSTORABLE_RE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return (f"holds the control character U+0000 (NUL) at character {found.start()}; "
                f"no text may hold it")
    return (f"holds a lone UTF-16 surrogate (U+{ord(found.group()):04X}) at character "
            f"{found.start()}; expected valid Unicode text")


def name_problem(value: str) -> str | None:
    """What makes `value` unfit as a name (an id, a source, a person): a lone surrogate, a
    control character, or more than `MAX_ATTRIBUTE_LENGTH` characters; else None."""
    problem = text_problem(value)
    if problem is not None:
        return problem
    found = _CONTROL_RE.search(value)
    if found is not None:
        return (f"holds the control character U+{ord(found.group()):04X} at character "
                f"{found.start()}; names may not hold control characters")
    if len(value) > MAX_ATTRIBUTE_LENGTH:
        return f"expected at most {MAX_ATTRIBUTE_LENGTH} characters, got {len(value)}"
    return None


# The largest finite double: a JSON integer beyond it cannot be compared with a number.
_MAX_DOUBLE = 1.7976931348623157e308


def _clean(value: Any) -> bool:
    """Whether `content_problems` would find nothing: the same walk without paths, which
    every event pays for (the paths are worked out only for content that has a problem)."""
    cls = value.__class__
    if cls is str:
        return _UNSTORABLE_RE.search(value) is None
    if cls is float:
        return math.isfinite(value)
    if cls is int:
        return bool(abs(value) <= _MAX_DOUBLE)
    if cls is dict or isinstance(value, Mapping):
        return all(_UNSTORABLE_RE.search(str(k)) is None and _clean(v)
                   for k, v in value.items())
    if cls is list or isinstance(value, (list, tuple)):
        return all(_clean(v) for v in value)
    return True


def content_problems(value: Any, path: str) -> list[tuple[str, str]]:
    """Every text (key or value) of JSON-like `value` that is no valid Unicode, and every
    number that is not a finite double (JSON's ``1e400`` parses to infinity), by path."""
    if _clean(value):
        return []
    problems: list[tuple[str, str]] = []
    pending: list[tuple[str, Any]] = [(path, value)]
    while pending:
        where, item = pending.pop()
        cls = item.__class__
        if cls is str:
            problem = text_problem(item)
            if problem is not None:
                problems.append((where, problem))
        elif cls is float or (cls is int and abs(item) > _MAX_DOUBLE):
            if cls is int or not math.isfinite(item):
                problems.append((where, f"expected a finite number, got {_number(item)}"))
        elif isinstance(item, Mapping):
            for key, child in item.items():
                name = str(key)
                problem = text_problem(name)
                child_path = f"{where}.{shown(name)}" if where else shown(name)
                if problem is not None:
                    problems.append((child_path, f"the key {problem}"))
                pending.append((child_path, child))
        elif isinstance(item, (list, tuple)):
            pending.extend((f"{where}[{index}]", child) for index, child in enumerate(item))
    return sorted(problems)


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return f"an integer of {value.bit_length()} bits (beyond a double's range)"
    return f"{value} (the number is beyond a double's range)"


def content_hash(event_json: Mapping[str, Any]) -> str:
    """The hash of an event's content: SHA-256 of its `to_json()` (every attribute, the
    extensions and `data`, but not `NOT_CONTENT`) as canonical JSON: keys sorted, no spaces,
    UTF-8. So re-sending an event with keys in another order or other spacing, or its time
    with ``Z`` for ``+00:00``, is the same content; any other change (a value, a number
    written 1 or 1.0, an attribute more or less) is other content."""
    if any(name in event_json for name in NOT_CONTENT):
        event_json = {k: v for k, v in event_json.items() if k not in NOT_CONTENT}
    text = json.dumps(event_json, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
