"""Collecting the policy feature files: one pytest module per file, one test per scenario.

`FeatureFile` checks a file (`lint.lint_text`) and has pytest-bdd parse it; a file that cannot
run becomes one failing `RefusedFile` test naming each problem's line, and the others still
run. Tags become markers.
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .lint import lint_text
from .runstate import STATE, FileRefused, Refusal
from .settings import relative

if TYPE_CHECKING:
    from pytest_bdd.parser import Feature

HAS_BDD = importlib.util.find_spec("pytest_bdd") is not None
# How feature files are read: UTF-8, with or without a byte-order mark.
FILE_ENCODING = "utf-8-sig"


def _nothing() -> None:
    """The body of every scenario test: the steps do the work."""


class FeatureFile(pytest.Module):
    """A ``.feature`` file, collected as a module of one test per scenario."""

    _feature: Feature | None = None

    def _read(self) -> Feature:
        """The file, parsed by pytest-bdd; raises `FileRefused` when it cannot run."""
        name = relative(self.path, self.config.rootpath)
        if not HAS_BDD:
            raise self.CollectError(f"{name}: pytest-bdd is not installed, so feature files "
                                    "cannot run; install the test tools: pip install "
                                    "'mandate-rules[test]'")
        if not self.config.pluginmanager.hasplugin("pytest-bdd"):
            raise self.CollectError(f"{name}: the pytest-bdd plugin is switched off "
                                    "(-p no:pytest-bdd), so feature files cannot run")
        try:
            # utf-8-sig: Notepad and Excel start UTF-8 files with a byte-order mark
            text = self.path.read_text(FILE_ENCODING)
        except UnicodeDecodeError as exc:
            raise FileRefused(Refusal(name, 1, (
                f"{name}: the file is not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                "it as UTF-8",))) from None
        findings = lint_text(text)
        if findings:
            raise FileRefused(Refusal(name, findings[0].line,
                                      tuple(f"{name}: {finding}" for finding in findings)))
        # pytest-bdd may be absent (checked above), so it is imported only here
        from pytest_bdd import feature as bdd_feature  # noqa: PLC0415

        # pytest-bdd caches parsed files by path for the whole process: read this text afresh.
        getattr(bdd_feature, "features", {}).pop(str(self.path), None)
        try:
            feature: Feature = bdd_feature.get_feature(str(self.path.parent), self.path.name,
                                                       encoding=FILE_ENCODING)
        except Exception as exc:  # lint_text catches what it knows; anything else, plainly
            raise FileRefused(Refusal(name, 1, (
                f"{name}: pytest-bdd could not read the file: {exc}",))) from None
        return feature

    def _getobj(self) -> types.ModuleType:
        from pytest_bdd.scenario import get_python_name_generator, scenario  # noqa: PLC0415

        feature = self._feature if self._feature is not None else self._read()
        self._register_tags(feature)
        module = types.ModuleType(f"mandate_rules_feature_{self.path.stem}")
        module.__file__ = str(self.path)
        for scenario_name, template in feature.scenarios.items():
            test = scenario(str(self.path), scenario_name, encoding=FILE_ENCODING,
                            features_base_dir=str(self.path.parent))(_nothing)
            # reported at the scenario's line of the feature file, not in pytest-bdd's code
            test.compat_co_firstlineno = template.line_number - 1  # type: ignore[attr-defined]
            for test_name in get_python_name_generator(scenario_name):
                if test_name not in module.__dict__:
                    module.__dict__[test_name] = test
                    break
        return module

    def _register_tags(self, feature: Feature) -> None:
        tags = set(feature.tags)
        for template in feature.scenarios.values():
            tags |= template.tags
            if template.rule is not None:
                tags |= template.rule.tags
            for examples in template.examples:
                tags |= examples.tags
        known = {line.split(":")[0].split("(")[0].strip()
                 for line in self.config.getini("markers")}
        for tag in sorted(tags - known):
            self.config.addinivalue_line("markers", f"{tag}: a tag in a feature file")

    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("test_")

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        state = self.config.stash[STATE]
        try:
            self._feature = self._read()
        except FileRefused as exc:
            state.refused[self.path.resolve()] = exc.refusal
            return [RefusedFile.from_parent(self, name=REFUSED, refusal=exc.refusal)]
        items = list(super().collect())
        state.collected[self.path.resolve()] = len(items)
        return items


REFUSED = "refused"


class RefusedFile(pytest.Item):
    """A feature file that cannot run, as one failing test: the others still run.

    (A collection error would interrupt the whole run.) Its failure is the plain-words list
    of the file's problems, each with its line.
    """

    def __init__(self, *, refusal: Refusal, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refusal = refusal

    def runtest(self) -> None:
        raise FileRefused(self.refusal)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, FileRefused):
            return excinfo.value.refusal.message + "\n"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.refusal.line - 1, f"{self.refusal.file} (refused)"


def is_scenario(item: pytest.Item) -> bool:
    return isinstance(item.parent, FeatureFile) and not isinstance(item, RefusedFile)
