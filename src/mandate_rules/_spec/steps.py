"""The step definitions: one pytest-bdd step per sentence of the phrasebook.

Each function here is bound to one phrasebook entry (`_bind`), which registers it with
pytest-bdd for every step kind the entry allows (Given, When, Then) with the entry's pattern.
The module refuses to import when an entry has no implementation, so the phrasebook and the
steps cannot drift apart. The plugin registers this module, which makes the steps (and the
`policy_bundle` and `policy_story` fixtures) available to every feature file with no conftest.

A project can still override a sentence with its own step definition in a conftest: the
closer scope wins in pytest-bdd.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pytest_bdd import given, parsers, then, when

from .._errors import RulePackError
from .._rules import Bundle
from .._schema import ObjectList, load_schema
from .enginepool import EnginePool
from .errors import SpecError
from .phrasebook import SENTENCES, SENTENCES_BY_KEY, Sentence
from .results import CURRENT_STEP
from .settings import load_rules, relative, rules_dir
from .story import Story
from .tables import Row, bounded_int, read_rows, read_table

if TYPE_CHECKING:
    from pytest_bdd.parser import Step

__all__ = ["Scene", "policy_bundle", "policy_engines", "policy_story"]

F = TypeVar("F", bound=Callable[..., None])

_DECORATORS = MappingProxyType({"given": given, "when": when, "then": then})
_BOUND: dict[str, Callable[..., None]] = {}


class Scene:
    """The story of the running scenario, and the step being run (its line, kind and table)."""

    def __init__(self, story: Story, node: pytest.Item) -> None:
        self.story = story
        self._node = node

    @property
    def step(self) -> Step:
        return self._node.stash[CURRENT_STEP]

    @property
    def line(self) -> int:
        return self.step.line_number

    @property
    def acting(self) -> bool:
        """True after When (the action), False after Given (the scene)."""
        return self.step.type == "when"

    def begin(self, sentence: Sentence) -> None:
        step = self.step
        if step.docstring is not None:
            raise SpecError('this sentence takes no text block ("""); remove it')
        if sentence.table == "none" and step.datatable is not None:
            raise SpecError("this sentence takes no table; remove the table under it")
        if sentence.table == "required" and step.datatable is None:
            raise SpecError("this sentence needs a table under it, starting with the header "
                            "row | field | value |")

    def rows(self) -> list[Row]:
        table = self.step.datatable
        if table is None:
            return []
        cells = [[cell.value for cell in row.cells] for row in table.rows]
        lines: list[int | None] = [row.location.line for row in table.rows]
        return read_rows(cells, lines)


@pytest.fixture(scope="session")
def policy_bundle(pytestconfig: pytest.Config) -> Bundle:
    """The rules the scenarios run against, loaded once per session."""
    path = rules_dir(pytestconfig)
    try:
        return load_rules(path)
    except RulePackError as exc:
        problems = "\n".join(f"    {p}" for p in exc.problems)
        raise SpecError(f"the rules in {relative(path, pytestconfig.rootpath)} did not load, so "
                        f"no scenario can run:\n{problems}") from None


@pytest.fixture(scope="session")
def policy_engines() -> EnginePool:
    """Engines reused between scenarios of one run (reset in between): building one costs
    tens of milliseconds with the full catalogue."""
    return EnginePool()


@pytest.fixture
def policy_story(request: pytest.FixtureRequest, policy_bundle: Bundle,
                 policy_engines: EnginePool) -> Iterator[Scene]:
    """A fresh story for each scenario (on an engine with no state left from another)."""
    label = relative(rules_dir(request.config), request.config.rootpath)
    story = Story(policy_bundle, label, policy_engines)
    yield Scene(story, request.node)
    story.close()


def _bind(key: str) -> Callable[[F], F]:
    """Register `func` as the step definition of the phrasebook entry `key`."""
    sentence = SENTENCES_BY_KEY[key]

    def decorate(func: F) -> F:
        if key in _BOUND:
            raise RuntimeError(f"the phrasebook entry {key!r} is implemented twice")

        @functools.wraps(func)
        def run(**kwargs: Any) -> None:
            kwargs["policy_story"].begin(sentence)
            func(**kwargs)

        for kind in sentence.kinds:
            # stacklevel 2: the step fixture goes into this module's namespace (the caller of
            # `decorate`), where pytest finds it when the module is registered as a plugin.
            _DECORATORS[kind](parsers.re(sentence.pattern), stacklevel=2)(run)
        _BOUND[key] = func
        return func

    return decorate


# ---------------------------------------------------------------------- the operation

@_bind("operation")
def operation(policy_story: Scene, country: str) -> None:
    policy_story.story.set_operation(country, policy_story.line)


@_bind("no_profile")
def no_profile(policy_story: Scene) -> None:
    policy_story.story.no_profile(policy_story.line)


def _fact_step(sentence: Sentence) -> Callable[..., None]:
    def fact(policy_story: Scene) -> None:
        policy_story.story.add_context(sentence.sets, policy_story.line)

    fact.__name__ = f"context_{sentence.key}"
    fact.__doc__ = sentence.meaning
    return fact


for _sentence in SENTENCES:
    if _sentence.sets:
        _bind(_sentence.key)(_fact_step(_sentence))
del _sentence


@_bind("guidance")
def guidance(policy_story: Scene, name: str, value: str) -> None:
    scene = policy_story
    field = f"country_guidance.{name}"
    row = Row(1, scene.line, field, value, label=f"`{field}`")
    values = read_table([row], load_schema().context_tree, "the context profile",
                        scene.story.now, envelope=False)
    scene.story.add_context(values.values, scene.line)


@_bind("profile_table")
def profile_table(policy_story: Scene) -> None:
    scene = policy_story
    values = read_table(scene.rows(), load_schema().context_tree, "the context profile",
                        scene.story.now, envelope=False)
    scene.story.add_context(values.values, scene.line)


@_bind("alternative")
def alternative(policy_story: Scene) -> None:
    scene = policy_story
    node = load_schema().context_tree["civilian_alternatives"]
    assert isinstance(node, ObjectList)
    values = read_table(scene.rows(), node.fields, "a civilian alternative", scene.story.now,
                        envelope=False)
    scene.story.add_alternative(values.values, scene.line)


@_bind("area")
def area(policy_story: Scene, area: str) -> None:
    policy_story.story.set_area(area)


@_bind("area_table")
def area_table(policy_story: Scene, area: str) -> None:
    scene = policy_story
    values = read_table(scene.rows(), load_schema().context_tree,
                        f"the context profile of area {area}", scene.story.now, envelope=False)
    scene.story.add_area_context(area, values.values, scene.line)


@_bind("organisation")
def organisation(policy_story: Scene, org: str, kind: str) -> None:
    policy_story.story.set_organisation(org, kind)


# ---------------------------------------------------------------------- events and time

@_bind("event")
def event(policy_story: Scene, kind: str, name: str | None = None) -> None:
    scene = policy_story
    scene.story.record(kind, name, scene.rows(), acting=scene.acting, line=scene.line)


@_bind("event_by_subject")
def event_by_subject(policy_story: Scene, kind: str, name: str) -> None:
    scene = policy_story
    scene.story.record(kind, name, scene.rows(), acting=scene.acting, line=scene.line,
                       subject_only=True)


@_bind("time_passes")
def time_passes(policy_story: Scene, amount: str, unit: str) -> None:
    scene = policy_story
    scene.story.advance_by(bounded_int(amount), unit, acting=scene.acting, line=scene.line)


@_bind("it_is")
def it_is(policy_story: Scene, moment: str) -> None:
    scene = policy_story
    scene.story.advance_to(moment, acting=scene.acting, line=scene.line)


# ---------------------------------------------------------------------- expectations

@_bind("raised")
def raised(policy_story: Scene, rule: str) -> None:
    policy_story.story.expect_raised(rule)


@_bind("raised_as")
def raised_as(policy_story: Scene, rule: str, severity: str) -> None:
    policy_story.story.expect_raised(rule, severity=severity)


@_bind("raised_times")
def raised_times(policy_story: Scene, rule: str, count: str) -> None:
    policy_story.story.expect_raised(rule, count=bounded_int(count))


@_bind("raised_once")
def raised_once(policy_story: Scene, rule: str) -> None:
    policy_story.story.expect_raised(rule, count=1)


@_bind("not_raised")
def not_raised(policy_story: Scene, rule: str) -> None:
    policy_story.story.expect_not_raised(rule)


@_bind("nothing")
def nothing(policy_story: Scene) -> None:
    policy_story.story.expect_nothing()


@_bind("only")
def only(policy_story: Scene, rules: str) -> None:
    policy_story.story.expect_only(rules)


@_bind("advice_mentions")
def advice_mentions(policy_story: Scene, rule: str, phrase: str) -> None:
    policy_story.story.expect_mention(rule, "advice", phrase)


@_bind("explanation_mentions")
def explanation_mentions(policy_story: Scene, rule: str, phrase: str) -> None:
    policy_story.story.expect_mention(rule, "explanation", phrase)


@_bind("context_unknown")
def context_unknown(policy_story: Scene, rule: str) -> None:
    policy_story.story.expect_context_unknown(rule)


def _check_every_sentence_is_bound() -> None:
    missing = [s.key for s in SENTENCES if s.key not in _BOUND]
    if missing:  # pragma: no cover - a development mistake, caught by importing the module
        raise RuntimeError(f"phrasebook entries with no step definition: {missing}")


_check_every_sentence_is_bound()
