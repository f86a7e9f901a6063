"""Reading YAML while keeping the line of every key and list item, for `file:line` problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from ._problems import Problem


def read_yaml(path: Path, shown: str, problems: list[Problem]) -> Any:
    """The document in `path`, or None after recording why it could not be read."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, 1, "unreadable-file", f"cannot read the file: {exc}"))
        return None
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = (exc.problem or exc.context or "not valid YAML").strip()
        code = "duplicate-key" if "duplicate key" in str(exc) else "yaml-syntax"
        problems.append(Problem(shown, line, code, f"{what} (the file is not valid YAML here)"))
        return None
    except Exception as exc:  # ruamel raises a few unmarked errors too
        problems.append(Problem(shown, 1, "yaml-syntax", f"not valid YAML: {exc}"))
        return None


def key_line(node: Any, key: str, default: int) -> int:
    """1-based line of `key` in a mapping read by `read_yaml`."""
    if isinstance(node, CommentedMap):
        try:
            return int(node.lc.key(key)[0]) + 1
        except (KeyError, TypeError):
            pass
    return default


def item_line(node: Any, index: int, default: int) -> int:
    """1-based line of item `index` of a list read by `read_yaml`."""
    if isinstance(node, CommentedSeq):
        try:
            return int(node.lc.item(index)[0]) + 1
        except (KeyError, TypeError, IndexError):
            pass
    return default


def node_line(node: Any, default: int) -> int:
    """1-based line where a mapping or list starts."""
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return int(lc.line) + 1
    return default


def plain(node: Any) -> Any:
    """Plain dicts, lists and scalars from what ruamel read (its types carry comments)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
