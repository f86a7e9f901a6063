"""Reading YAML while keeping the line of every key and list item, for `file:line` problems.

libyaml (through PyYAML's C loader) composes the node tree, which carries a position for every
node, and this module builds plain dicts and lists from it. Two reasons not to let PyYAML
construct the values itself: it follows YAML 1.1, where `yes`, `no`, `on` and `off` are
booleans (`party_to_conflict: yes` must stay the word "yes"), and it silently keeps the last
of two equal keys. Scalars are resolved by the YAML 1.2 core schema instead, and a duplicate
key is a problem. Building from libyaml's nodes is about ten times faster than a pure-Python
round-trip parser, which matters because the sidecar re-reads the packs on every reload.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ._problems import Problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_MERGE = "tag:yaml.org,2002:merge"


class LineDict(dict[str, Any]):
    """A mapping read from YAML, with the line of each key."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}


class LineList(list[Any]):
    """A list read from YAML, with the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


def _scalar(node: yaml.ScalarNode) -> Any:
    text = node.value
    if node.style:  # quoted ('"', "'"), literal ("|") or folded (">"): always a text
        return text
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        try:
            return int(text)
        except ValueError:  # over Python's 4,300 digits: no number anyone means; a text
            return text
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    return text


# Bounds on what one file may make the reader do. A pack of the catalogue is under 25 KB and
# builds about 2,000 values at a depth under 12; these limits leave room for far larger packs
# while refusing a file that would exhaust memory or time (docs/rule-format.md, "Limits").
MAX_FILE_BYTES = 1024 * 1024
# Anchors and aliases (`&a`, `*a`) let a few hundred bytes stand for billions of values (the
# "billion laughs"): a file may build at most this many values beyond the nodes written in it.
MAX_ALIAS_VALUES = 100_000
MAX_DEPTH = 100


class _TooLarge(Exception):
    def __init__(self, line: int, code: str, message: str) -> None:
        super().__init__(message)
        self.line, self.code, self.message = line, code, message


class _Builder:
    """Plain values from a composed node tree, within `MAX_ALIAS_VALUES` and `MAX_DEPTH`."""

    def __init__(self, root: yaml.Node) -> None:
        self.budget = _distinct_nodes(root) + MAX_ALIAS_VALUES
        self.built = 0
        self.seen: set[int] = set()  # nodes built at least once: met again through an alias
        self.open: set[int] = set()  # nodes being built: meeting one again is a cycle

    def build(self, node: yaml.Node, depth: int = 0, site: int = 1) -> Any:
        """The value of `node`; `site` is the line of the innermost node written where it is
        used (not reached through an alias), where a problem is reported."""
        line = node.start_mark.line + 1
        if id(node) not in self.seen:
            self.seen.add(id(node))
            site = line
        self.built += 1
        if self.built > self.budget:
            raise _TooLarge(site, "yaml-too-large",
                            f"anchors and aliases here expand to more than "
                            f"{MAX_ALIAS_VALUES:,} values beyond those written in the file; "
                            "write the values out instead")
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if depth >= MAX_DEPTH:
            raise _TooLarge(site, "yaml-too-deep", f"lists and mappings are nested more than "
                            f"{MAX_DEPTH} levels deep here")
        if id(node) in self.open:
            raise _TooLarge(site, "yaml-recursive", "an alias here refers to a list or mapping "
                            "that contains it, which would never end")
        self.open.add(id(node))
        try:
            return self._collection(node, line, depth + 1, site)
        finally:
            self.open.discard(id(node))

    def _collection(self, node: yaml.Node, line: int, depth: int, site: int) -> Any:
        if isinstance(node, yaml.SequenceNode):
            seq = LineList(line)
            for item in node.value:
                seq.append(self.build(item, depth, site))
                seq.item_lines.append(item.start_mark.line + 1)
            return seq
        assert isinstance(node, yaml.MappingNode)
        mapping = LineDict(line)
        merged: list[LineDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE or (isinstance(key_node, yaml.ScalarNode) and
                                          key_node.value == "<<" and key_node.style is None):
                value = self.build(value_node, depth, site)
                merged.extend(value if isinstance(value, list) else [value])
                continue
            key = str(self.build(key_node, depth, site))
            key_line = key_node.start_mark.line + 1
            if key in mapping.key_lines:
                raise _DuplicateKey(key, key_line, mapping.key_lines[key])
            mapping[key] = self.build(value_node, depth, site)
            mapping.key_lines[key] = key_line
        for source in merged:  # `<<: *anchor`: keys written here win over merged ones
            if isinstance(source, LineDict):
                for key, value in source.items():
                    if key not in mapping:
                        mapping[key] = value
                        mapping.key_lines[key] = source.key_lines.get(key, line)
        return mapping


def _distinct_nodes(root: yaml.Node) -> int:
    """How many nodes the file writes out (an alias is the node it names, counted once)."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                todo.append(key)
                todo.append(value)
    return len(seen)


def read_source(path: Path, shown: str, problems: list[Problem]) -> bytes | None:
    """The bytes of `path`, or None after recording why they cannot be read as a YAML file:
    not a regular file (a directory named `x.yaml`), larger than `MAX_FILE_BYTES`, or
    unreadable. The file is never read past the limit."""
    try:
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not a regular file"
            problems.append(Problem(shown, 1, "not-a-file", f"{shown} is {what}, not a YAML "
                                    "file; rename it or move it out of this directory"))
            return None
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        problems.append(Problem(shown, 1, "unreadable-file",
                                f"cannot read the file: {exc.strerror or exc}"))
        return None
    if len(data) > MAX_FILE_BYTES:
        problems.append(Problem(shown, 1, "file-too-large", f"the file is larger than "
                                f"{MAX_FILE_BYTES // 1024} KiB, the most a YAML file here may "
                                "hold; split it into several files"))
        return None
    return data


def decode_source(data: bytes, shown: str, problems: list[Problem]) -> str | None:
    """`data` as UTF-8 text, or None after recording where it is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problems.append(Problem(shown, line, "unreadable-file", f"the file is not UTF-8 text "
                                f"(byte {exc.start + 1} cannot be read); save it as UTF-8"))
        return None


def read_yaml(path: Path, shown: str, problems: list[Problem], *,
              expected: str | None = None) -> Any:
    """The document in `path`, or None after recording why it could not be read.

    With `expected` (what the file should hold, in words), an empty file is a problem too.
    """
    data = read_source(path, shown, problems)
    text = decode_source(data, shown, problems) if data is not None else None
    if text is None:
        return None
    return parse_yaml(text, shown, problems, expected=expected)


def parse_yaml(text: str, shown: str, problems: list[Problem], *,
               expected: str | None = None) -> Any:
    """The document in `text` (named `shown` in problems), or None after recording why not.

    With `expected` (what the document should be, in words), an empty one is a problem too.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)  # a safe loader, composing only
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = (exc.problem or exc.context or "not valid YAML").strip()
        problems.append(Problem(shown, line, "yaml-syntax",
                                f"{what} (the file is not valid YAML here)"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(shown, 1, "yaml-syntax", f"not valid YAML: {exc}"))
        return None
    try:
        value = _Builder(node).build(node) if node is not None else None
    except _DuplicateKey as exc:
        problems.append(Problem(shown, exc.line, "duplicate-key",
                                f"the key {exc.key!r} appears twice in one mapping (first at "
                                f"line {exc.first}); the second would silently win"))
        return None
    except _TooLarge as exc:
        problems.append(Problem(shown, exc.line, exc.code, exc.message))
        return None
    if value is None and expected is not None:
        problems.append(Problem(shown, 1, "empty-file", f"the file is empty (or holds only "
                                f"comments); expected {expected}"))
    return value


def key_line(node: Any, key: str, default: int) -> int:
    """1-based line of `key` in a mapping read by `read_yaml`."""
    if isinstance(node, LineDict):
        return node.key_lines.get(key, default)
    return default


def item_line(node: Any, index: int, default: int) -> int:
    """1-based line of item `index` of a list read by `read_yaml`."""
    if isinstance(node, LineList) and 0 <= index < len(node.item_lines):
        return node.item_lines[index]
    return default


def node_line(node: Any, default: int) -> int:
    """1-based line where a mapping or list starts."""
    if isinstance(node, (LineDict, LineList)):
        return node.line
    return default


def plain(node: Any) -> Any:
    """Plain dicts, lists and scalars from what `read_yaml` built."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node
