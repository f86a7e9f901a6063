"""The public surface: an honest, sorted `__all__`, and durable_rules kept behind one module."""

from __future__ import annotations

import ast
import types
from importlib import metadata
from pathlib import Path

import pytest

import mandate_rules
from mandate_rules import adapters

SRC = Path(mandate_rules.__file__).parent


def test_all_is_sorted_and_complete() -> None:
    names = mandate_rules.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(mandate_rules, name) is not None
    # "@py_builtins" and friends: pytest rewrites the asserts of a distribution that ships a
    # pytest plugin, and leaves these names behind
    public = {n for n, v in vars(mandate_rules).items()
              if not n.startswith(("_", "@")) and not isinstance(v, types.ModuleType)}
    assert public == set(names), "a public name is missing from __all__, or __all__ lists junk"


def test_public_objects_have_docstrings() -> None:
    for name in mandate_rules.__all__:
        obj = getattr(mandate_rules, name)
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_only_the_matcher_imports_durable_rules() -> None:
    importers = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("durable", "durable_rules_engine") for n in names):
                importers.append(path.name)
    assert sorted(set(importers)) == ["_matcher.py"]


def test_no_module_level_mutable_state() -> None:
    """Module globals are constants: no lists, dicts or sets that code could mutate."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if names == ["__all__"]:
                    continue
                if isinstance(value, (ast.List, ast.Set, ast.ListComp, ast.SetComp)):
                    offenders.append(f"{path.name}: {names}")
    assert offenders == []


def test_the_adapter_contract_is_public_and_honest() -> None:
    names = adapters.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    # A submodule (the test kit, `testing`) is an attribute once something imported it; it
    # is imported on its own, never by the package (tests/adapters/test_kit.py), so it is not
    # one of the package's names.
    public = {n for n, v in vars(adapters).items()
              if not n.startswith(("_", "@")) and not isinstance(v, types.ModuleType)}
    assert public == set(names)


def test_bundled_adapters_import_only_public_names() -> None:
    root = Path(__file__).resolve().parents[1] / "adapters"
    paths = sorted(root.rglob("*.py"))
    assert len(paths) > 10
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "mandate_rules"):
                assert not any(part.startswith("_") for part in node.module.split(".")), (
                    f"{path}: imports {node.module}")
                assert node.module == "mandate_rules.adapters", (
                    f"{path}: adapters import only the adapter SDK, which re-exports the "
                    f"models they need, not {node.module}")


def test_version_and_dir_without_loading_the_engine() -> None:
    assert mandate_rules.__version__ == metadata.version("mandate-rules")
    # dir() lists every public name, loaded yet or not (they are imported when first used).
    assert set(mandate_rules.__all__) <= set(dir(mandate_rules))
    with pytest.raises(AttributeError, match="no attribute 'Engin'"):
        _ = mandate_rules.Engin
