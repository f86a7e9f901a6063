"""The reader under the rule-pack loader: the files of a rules directory and their problems.

`PackReader` holds what loading one bundle accumulates (the problems, the sets, the rules
defined so far, the bytes read for the content hash) and reads the plain values every part of
a pack is made of: texts, lists of texts, severities and event types. Each reader of a part
(`_typecheck`, `_patternload`, `_contextload`, `_loader`) builds on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from ._models import Severity
from ._problems import Problem, suggestion
from ._rules import Where
from ._schema import Schema
from ._yamlsrc import decode_source, key_line, parse_yaml, plain, read_source

_SEVERITIES = tuple(s.value for s in Severity)


class PackReader:
    """The state and the plain-value readers shared by every part of the loader."""

    def __init__(self, root: FsPath, schema: Schema, problems: list[Problem],
                 overrides: Mapping[str, Mapping[str, Any]]) -> None:
        self.root = root
        self.schema = schema
        self.problems = problems
        self.overrides = overrides
        self.sets: dict[str, tuple[str, ...]] = {}
        self.defined: dict[str, Where] = {}
        self.file = ""
        self.sources: dict[FsPath, bytes] = {}  # the bytes read, for the content hash

    def problem(self, line: int, code: str, message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, line, code, message))

    def shown(self, path: FsPath) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def read(self, path: FsPath, home: FsPath, expected: str) -> Any:
        """The YAML document in `path`, or None after recording why not.

        A file (or a symbolic link) that leads out of `home` is refused unread: what lies
        outside the rules directory is not a rule pack, and its content must not travel into
        problems that `check` prints and the sidecar's reload returns.
        """
        self.file = self.shown(path)
        try:
            inside = path.resolve().is_relative_to(home.resolve())
        except (OSError, RuntimeError) as exc:  # a loop of links
            self.problem(1, "unreadable-file", f"cannot follow the path: {exc}")
            return None
        if not inside:
            self.problem(1, "link-outside", f"{self.file} leads out of {self.shown(home)} "
                         "through a symbolic link; it was not read. Put the file itself in the "
                         "directory")
            return None
        data = read_source(path, self.file, self.problems)
        if data is None:
            return None
        self.sources[path] = data
        text = decode_source(data, self.file, self.problems)
        if text is None:
            return None
        return parse_yaml(text, self.file, self.problems, expected=expected)

    def unknown_keys(self, node: Any, allowed: Sequence[str], line: int, what: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(key_line(node, key, line), "unknown-key",
                             f"{key!r} is not a key of {what}{suggestion(str(key), allowed)}; "
                             f"known keys: {', '.join(allowed)}")

    def text(self, node: Any, key: str, line: int, what: str, *, required: bool = True,
             code: str | None = None) -> str | None:
        value = node.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(line, code or f"missing-{key}", f"{what} has no {key!r}")
            return None
        if not isinstance(value, str):
            self.problem(key_line(node, key, line), f"bad-{key}",
                         f"{key!r} of {what} should be a text, got {plain(value)!r}")
            return None
        return " ".join(str(value).split()) if key in ("title", "advice", "because") else str(
            value).strip()

    def severity(self, node: Any, key: str, line: int, what: str, *,
                 required: bool) -> Severity | None:
        value = node.get(key)
        if value is None:
            if required:
                self.problem(line, "missing-severity", f"{what} has no {key!r}")
            return None
        if str(value) not in _SEVERITIES:
            self.problem(key_line(node, key, line), "bad-severity",
                         f"{key} of {what} is {plain(value)!r}; expected one of "
                         f"{', '.join(_SEVERITIES)}{suggestion(str(value), _SEVERITIES)}")
            return None
        return Severity(str(value))

    def text_list(self, node: Any, key: str, line: int, what: str) -> list[str]:
        value = node.get(key)
        if value is None:
            self.problem(line, f"missing-{key}", f"{what} has no {key!r}")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v.strip() for v in value):
            self.problem(key_line(node, key, line), f"bad-{key}",
                         f"{key!r} of {what} should be a list of texts")
            return []
        return [" ".join(v.split()) for v in value]

    def event_types(self, node: Any, key: str, line: int, what: str, *,
                    required: bool) -> tuple[str, ...]:
        value = node.get(key)
        k_line = key_line(node, key, line)
        if value is None:
            if required:
                self.problem(line, f"missing-{key}", f"{what} has no {key!r}")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.problem(k_line, "bad-on", f"{key!r} of {what} should list event types")
            return ()
        types = []
        for type_ in value:
            if str(type_) not in self.schema.types:
                self.problem(k_line, "unknown-event-type",
                             f"{type_!r} is not an event type"
                             f"{suggestion(str(type_), self.schema.types)}")
            else:
                types.append(str(type_))
        return tuple(types)

