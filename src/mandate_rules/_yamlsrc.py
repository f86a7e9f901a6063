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
        return int(text)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    return text


def _build(node: yaml.Node) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        seq = LineList(line)
        for item in node.value:
            seq.append(_build(item))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    assert isinstance(node, yaml.MappingNode)
    mapping = LineDict(line)
    merged: list[LineDict] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE or (isinstance(key_node, yaml.ScalarNode) and
                                      key_node.value == "<<" and key_node.style is None):
            value = _build(value_node)
            merged.extend(value if isinstance(value, list) else [value])
            continue
        key = str(_build(key_node))
        key_line = key_node.start_mark.line + 1
        if key in mapping.key_lines:
            raise _DuplicateKey(key, key_line, mapping.key_lines[key])
        mapping[key] = _build(value_node)
        mapping.key_lines[key] = key_line
    for source in merged:  # `<<: *anchor`: keys written here win over merged ones
        if isinstance(source, LineDict):
            for key, value in source.items():
                if key not in mapping:
                    mapping[key] = value
                    mapping.key_lines[key] = source.key_lines.get(key, line)
    return mapping


def read_yaml(path: Path, shown: str, problems: list[Problem]) -> Any:
    """The document in `path`, or None after recording why it could not be read."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, 1, "unreadable-file", f"cannot read the file: {exc}"))
        return None
    return parse_yaml(text, shown, problems)


def parse_yaml(text: str, shown: str, problems: list[Problem]) -> Any:
    """The document in `text` (named `shown` in problems), or None after recording why not."""
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
    if node is None:
        return None
    try:
        return _build(node)
    except _DuplicateKey as exc:
        problems.append(Problem(shown, exc.line, "duplicate-key",
                                f"the key {exc.key!r} appears twice in one mapping (first at "
                                f"line {exc.first}); the second would silently win"))
        return None


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
