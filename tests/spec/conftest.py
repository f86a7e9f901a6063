"""Fixtures for the policy-spec tests: a copy of the ESC and AST rules, and throw-away projects.

The tests never read features/ or rules/ of the repository directly (other packs and feature
files are written there concurrently): they run on copies of the escort and asset packs, the
bundle file and the context profiles.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from mandate_rules import Bundle
from mandate_rules._spec.settings import load_rules

from ..helpers import ROOT, RULES_DIR

FEATURES_DIR = ROOT / "features"
RULE_FILES = ("bundle.yaml", "escorts.yaml", "assets.yaml")
OWN_FEATURES = ("escorts.feature", "assets.feature")


def copy_rules(target: Path) -> Path:
    target.mkdir(parents=True)
    for name in RULE_FILES:
        shutil.copy(RULES_DIR / name, target / name)
    shutil.copytree(RULES_DIR / "contexts", target / "contexts")
    return target


@pytest.fixture(scope="session")
def spec_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The escort and asset packs, with the bundle file and the shipped context profiles."""
    return copy_rules(tmp_path_factory.mktemp("spec") / "rules")


@pytest.fixture(scope="session")
def spec_bundle(spec_rules: Path) -> Bundle:
    return load_rules(spec_rules)


class Project:
    """A throw-away project with rules/ and features/, run by pytest in this process."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.features = self.path / "features"
        self.features.mkdir()

    def feature(self, name: str, text: str) -> Path:
        path = self.features / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_inprocess(*args)


@pytest.fixture
def project(pytester: pytest.Pytester, spec_rules: Path) -> Project:
    pytester.makefile(".ini", pytest="[pytest]\naddopts = -ra --strict-markers\n")
    shutil.copytree(spec_rules, pytester.path / "rules")
    return Project(pytester)
