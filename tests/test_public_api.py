"""The public surface: an honest, sorted `__all__`, and durable_rules kept behind one module."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from importlib import metadata
from pathlib import Path

import pytest

import mandate_rules
from mandate_rules import MandateRulesError, _models, adapters
from mandate_rules._errors import ProblemsError
from mandate_rules.adapters import MappingError

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


_MUTABLE = (ast.List, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp)
# The one registry a module fills as it is imported: the step definitions bound so far.
_REGISTRIES = {"_spec/steps.py: ['_BOUND']"}


def _mutable_globals(paths: list[Path]) -> list[str]:
    offenders = []
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                value = node.value
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                if names == ["__all__"]:
                    continue
                # dict(...), list(...), set(...) and dict.fromkeys(...) make them too
                made = isinstance(value, ast.Call) and (
                    (isinstance(value.func, ast.Name) and value.func.id in ("dict", "list", "set"))
                    or (isinstance(value.func, ast.Attribute) and isinstance(
                        value.func.value, ast.Name) and value.func.value.id == "dict"))
                if isinstance(value, _MUTABLE) or made:
                    offenders.append(f"{path.relative_to(SRC).as_posix()}: {names}")
    return offenders


def test_no_module_level_mutable_state() -> None:
    """Module globals are constants: no lists, dicts or sets that code could mutate (a table
    is a MappingProxyType, a list a tuple)."""
    paths = [p for p in sorted(SRC.rglob("*.py"))
             if p.relative_to(SRC).parts[0] not in ("_service", "_adapters", "adapters")]
    assert set(_mutable_globals(paths)) == _REGISTRIES


def test_no_module_level_mutable_state_in_the_sidecar_and_the_adapters() -> None:
    paths = [p for p in sorted(SRC.rglob("*.py"))
             if p.relative_to(SRC).parts[0] in ("_service", "_adapters", "adapters")]
    assert _mutable_globals(paths) == []


def test_the_models_leave_the_content_helpers_to_content() -> None:
    """`_content` holds the content checks, the hash and freeze/thaw; `_models` no longer
    passes them on, and nothing imports them from there."""
    helpers = {"content_hash", "freeze", "thaw", "name_problem", "shown", "text_problem"}
    assert helpers & set(_models.__all__) == set()
    via_models = [f"{p.relative_to(SRC).as_posix()}: {alias.name}"
                  for p in sorted(SRC.rglob("*.py"))
                  for node in ast.walk(ast.parse(p.read_text(), filename=str(p)))
                  if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_models")
                  for alias in node.names if alias.name in helpers]
    assert via_models == []


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


def _public_exceptions() -> list[type[BaseException]]:
    found = {getattr(module, name) for module in (mandate_rules, adapters)
             for name in module.__all__}
    return sorted((obj for obj in found if isinstance(obj, type)
                   and issubclass(obj, BaseException)), key=lambda cls: cls.__name__)


def test_every_public_exception_derives_from_mandate_rules_error() -> None:
    exceptions = _public_exceptions()
    assert len(exceptions) > 10  # the package's and the adapter SDK's
    assert [cls.__name__ for cls in exceptions
            if not issubclass(cls, MandateRulesError)] == []


def _defined_exceptions() -> list[type[BaseException]]:
    """Every exception class the package defines under a name without an underscore."""
    out: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(mandate_rules.__path__, "mandate_rules."):
        if info.name.endswith(".__main__"):  # importing one runs its program
            continue
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, BaseException) and obj.__module__ == module.__name__
                    and not name.startswith("_")):
                out[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [out[key] for key in sorted(out)]


@pytest.mark.parametrize("cls", [
    pytest.param(cls, id=f"{cls.__module__}.{cls.__qualname__}")
    for cls in _defined_exceptions()])
def test_every_exception_the_package_raises_derives_from_mandate_rules_error(
        cls: type[BaseException]) -> None:
    # ConditionSyntaxError, SpecError, SpecRunError and the plugin's errors stood apart;
    # `except MandateRulesError` must catch whatever mandate_rules raises on purpose.
    assert issubclass(cls, MandateRulesError)


def test_the_errors_that_list_problems_share_one_body() -> None:
    problem = mandate_rules.Problem("rules/a.yaml", 3, "bad-rule", "what went wrong")
    error = mandate_rules.RulePackError([problem])
    assert isinstance(error, ProblemsError)
    assert error.problems == (problem,)
    assert str(error) == ("1 problem(s) in the rule packs:\n"
                          "rules/a.yaml:3: bad-rule: what went wrong")
    # MappingError (the adapters') has the same body; it moves onto ProblemsError with them
    assert str(MappingError([problem])) == str(error).replace("the rule packs",
                                                              "the field mapping")


def test_each_module_of_the_core_has_one_job_in_under_500_lines() -> None:
    # the sidecar and the adapters are held to it with their own layout
    long = {p.relative_to(SRC).as_posix(): n for p in sorted(SRC.rglob("*.py"))
            if p.relative_to(SRC).parts[0] not in ("_service", "_adapters", "adapters")
            and (n := len(p.read_text().splitlines())) > 500}
    assert long == {}



def test_version_and_dir_without_loading_the_engine() -> None:
    assert mandate_rules.__version__ == metadata.version("mandate-rules")
    # dir() lists every public name, loaded yet or not (they are imported when first used).
    assert set(mandate_rules.__all__) <= set(dir(mandate_rules))
    with pytest.raises(AttributeError, match="no attribute 'Engin'"):
        _ = mandate_rules.Engin
