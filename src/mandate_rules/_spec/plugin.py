"""The pytest plugin that runs the policy specs (entry point ``pytest11``: ``mandate_rules``).

Collection (`collect`)
    Every ``.feature`` file under the features folder (ini ``mandate_rules_features``, default
    ``features``) is collected by `FeatureFile`, with no ``test_*.py`` and no conftest. The file
    is first checked by `lint.lint_text`. A file with any problem is refused: it becomes one
    failing test (``features/bad.feature::refused``) whose message names the file and each
    problem's line (never a silent skip), and the other files still run. A refused test is
    kept whatever ``-k`` or ``-m`` select. Each scenario becomes a test named after it, so node ids
    name the file (``features/escorts.feature::test_an_escort_from_a_party``) and
    ``pytest features/escorts.feature`` runs one file. Tags become markers (``pytest -m wip``).

The run's state (`runstate`) is kept in pytest's stash.

Steps
    `steps` (the phrasebook's step definitions and the `policy_story` fixture) is registered
    as a plugin, so its steps are global. The rules (ini ``mandate_rules_dir``, see `settings`)
    are loaded once per session; each scenario gets its own `Engine`.

Failures
    A failing step's report is replaced by a message for policy staff (`errors`): file, line,
    scenario and sentence, then what was expected and what was raised, or the closest known
    sentences for an unknown one. ``--policy-raw-errors`` keeps pytest's traceback.

Coverage and results
    See `coverage` for the rule and `results` for ``--policy-report PATH`` (JSON).
    ``--no-policy-coverage`` switches the coverage check off for a run.

The plugin does nothing in a project with no feature files, and nothing that fails when
pytest-bdd is not installed until a feature file is found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .._errors import RulePackError
from .collect import FILE_ENCODING, HAS_BDD, FeatureFile, RefusedFile, is_scenario
from .coverage import compute, not_enforced_reason
from .errors import (
    ExpectationNotMet,
    SpecError,
    Where,
    failure_text,
    internal_error_text,
    unknown_sentence_text,
)
from .lookalikes import differences, normalise
from .phrasebook import closest, matching, other_kind
from .results import (
    CURRENT_STEP,
    PROPERTY,
    TRACE,
    Trace,
    report_document,
    scenario_record,
    write_report,
)
from .runstate import STATE, RunState
from .settings import INI_FEATURES, INI_RULES, features_dir, load_rules, relative, rules_dir

if TYPE_CHECKING:
    from pytest_bdd.parser import Feature, Scenario, Step

STEPS_PLUGIN = "mandate_rules.steps"


# --------------------------------------------------------------------------- set-up

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mandate-rules", "policy specs (mandate-rules)")
    group.addoption("--policy-report", metavar="PATH", default=None,
                    help="write the results of the policy scenarios (feature files) as JSON "
                         "to PATH")
    group.addoption("--policy-raw-errors", action="store_true", default=False,
                    help="show pytest's tracebacks for failing scenarios instead of the "
                         "plain-words messages")
    group.addoption("--no-policy-coverage", action="store_true", default=False,
                    help="do not fail the run when a rule lacks a raising or a near-miss "
                         "scenario")
    parser.addini(INI_FEATURES, "folder of the policy feature files, relative to the rootdir "
                                "(default: features)", default="features")
    parser.addini(INI_RULES, "rules directory the policy scenarios run against, relative to "
                             "the rootdir (default: rules/ when it holds bundle.yaml, else the "
                             "rules shipped with mandate-rules)", default="")


def pytest_configure(config: pytest.Config) -> None:
    state = config.stash[STATE] = RunState(features=features_dir(config),
                                           rules=rules_dir(config))
    config.pluginmanager.register(_Recorder(state), "mandate_rules.recorder")
    if HAS_BDD and not config.pluginmanager.has_plugin(STEPS_PLUGIN):
        from . import steps  # noqa: PLC0415 - needs pytest-bdd, which may be absent

        config.pluginmanager.register(steps, STEPS_PLUGIN)


# --------------------------------------------------------------------------- collection

def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> FeatureFile | None:
    if file_path.suffix != ".feature":
        return None
    state = parent.config.stash.get(STATE, None)
    if state is None or not file_path.resolve().is_relative_to(state.features):
        return None
    node: FeatureFile = FeatureFile.from_parent(parent, path=file_path)
    return node


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Hold the refused files back from ``-k``, ``-m`` and other deselection (`_Recorder`
    puts them back): a refused file must fail the run whatever is selected."""
    state = config.stash.get(STATE, None)
    if state is None:
        return
    state.held = [item for item in items if isinstance(item, RefusedFile)]
    if state.held:
        items[:] = [item for item in items if not isinstance(item, RefusedFile)]


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None:
        return
    state.selected = dict(Counter(item.path.resolve() for item in session.items
                                  if is_scenario(item)))
    if state.refused:
        names = ", ".join(sorted(r.file for r in state.refused.values()))
        state.reason = f"a feature file was refused ({names}), so its scenarios did not run"
    elif config.getoption("no_policy_coverage"):
        state.reason = "--no-policy-coverage was given"
    elif config.getoption("collectonly"):
        state.reason = "only collecting"
    elif hasattr(config, "workerinput"):
        state.reason = "this is a pytest-xdist worker"
    else:
        label = relative(state.features, config.rootpath) + "/"
        files = sorted(p.resolve() for p in state.features.rglob("*.feature")
                       if not any(part.startswith(".") for part in
                                  p.relative_to(state.features).parts))
        state.reason = not_enforced_reason(feature_files=files, collected=state.collected,
                                           selected=state.selected, features_label=label,
                                           root=config.rootpath.resolve())


# --------------------------------------------------------------------------- running

@pytest.hookimpl(optionalhook=True)
def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Feature,
                               scenario: Scenario) -> None:
    _normalise_steps(scenario)
    request.node.stash[TRACE] = Trace.start(feature, scenario)


def _normalise_steps(scenario: Scenario) -> None:
    """Run a step with curly quotes, doubled spaces and the like (`lookalikes`) as the known
    sentence it means, when only its normalised text is one. (The steps are this scenario's
    own copies, rendered by pytest-bdd for this test; the parsed file is left as it is.)"""
    for step in scenario.steps:
        if matching(step.type, step.name):
            continue
        normal = normalise(step.name)
        if normal != step.name and matching(step.type, normal):
            step.name = normal


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_before_step(request: pytest.FixtureRequest, step: Step) -> None:
    request.node.stash[CURRENT_STEP] = step


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_after_step(request: pytest.FixtureRequest, step: Step) -> None:
    trace = request.node.stash.get(TRACE, None)
    if trace is not None:
        trace.mark(step, "passed")


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_step_error(request: pytest.FixtureRequest, step: Step,
                          exception: BaseException) -> None:
    trace = request.node.stash.get(TRACE, None)
    if trace is not None:
        trace.mark(step, "failed")
        trace.failed_step, trace.error = step, exception


@pytest.hookimpl(optionalhook=True)
def pytest_bdd_step_func_lookup_error(request: pytest.FixtureRequest, step: Step) -> None:
    trace = request.node.stash.get(TRACE, None)
    if trace is not None:
        trace.mark(step, "undefined")
        trace.failed_step, trace.undefined = step, True


def _message(trace: Trace | None, file: str, path: Path) -> str | None:
    """The plain-words text for a failed scenario, or None if no step failed."""
    if trace is None or trace.failed_step is None:
        return None
    step = trace.failed_step
    where = Where(file=file, line=step.line_number, scenario=trace.scenario.name,
                  keyword=step.keyword.strip(), text=step.name)
    if trace.undefined:
        return unknown_sentence_text(where, closest(step.type, normalise(step.name)),
                                     other_kind(step.type, normalise(step.name)),
                                     differences(_raw_line(path, step.line_number)))
    error = trace.error
    if isinstance(error, (SpecError, ExpectationNotMet)):
        return failure_text(where, str(error))
    assert error is not None
    return internal_error_text(where, error)


def _raw_line(path: Path, number: int) -> str:
    """Line `number` of the feature file as written (empty when it cannot be read)."""
    try:
        lines = path.read_text(FILE_ENCODING).splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _record(item: pytest.Item, report: pytest.TestReport, state: RunState) -> dict[str, Any]:
    from pytest_bdd.scenario import scenario_wrapper_template_registry  # noqa: PLC0415

    config = item.config
    file = relative(item.path, config.rootpath)
    trace = item.stash.get(TRACE, None)
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
    message = None
    if report.failed:
        message = _message(trace, file, item.path)
        if message is not None and not config.getoption("policy_raw_errors"):
            report.longrepr = message
        if message is None:
            message = report.longreprtext
    if trace is not None:
        feature, scenario = trace.feature, trace.scenario
        steps, status = trace.scenario.steps, trace.status
    else:  # skipped (or failed) before the first step
        template = scenario_wrapper_template_registry[item.obj]  # type: ignore[attr-defined]
        feature, scenario = template.feature, template.render(example or {})
        steps, status = scenario.steps, ["skipped"] * len(scenario.steps)
    return scenario_record(nodeid=item.nodeid, file=file, feature=feature, scenario=scenario,
                           steps=steps, status=status, example=example, outcome=report.outcome,
                           message=message, duration=report.duration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if is_scenario(item) and (call.when == "call"
                               or (call.when == "setup" and not report.passed)):
        state = item.config.stash[STATE]
        report.user_properties.append((PROPERTY, _record(item, report, state)))
    return report


class _Recorder:
    """Keeps the scenario records of one run (`pytest_runtest_logreport` gets no config)."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items[:0] = [item for item in self.state.held if item not in items]
        self.state.held = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == PROPERTY and isinstance(value, dict):
                self.state.records.append(value)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, object, object]:
        """After pytest's own last line ("294 passed in 3 s"), say why coverage failed the
        run: the exit code is 1, and the last line must not read as a success."""
        result = yield
        line = _coverage_failure(self.state)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if line is not None and reporter is not None:
            reporter.write_line(line, red=True, bold=True)
        return result


# --------------------------------------------------------------------------- the end

def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if config.pluginmanager.hasplugin("dsession"):  # the xdist controller collects nothing
        state.reason = "the scenarios ran on pytest-xdist workers"
    if state.ran and state.reason is None:
        if session.shouldfail or session.shouldstop:
            state.reason = "the run stopped early"
        elif exitstatus == pytest.ExitCode.INTERRUPTED:
            state.reason = "the run was interrupted"
    if state.ran and state.reason is None:
        _check_coverage(session, state)
    path = config.getoption("policy_report")
    if path and not hasattr(config, "workerinput"):  # under xdist, the controller writes it
        coverage: dict[str, Any] = {"enforced": state.ran and state.reason is None,
                                    "reason": state.reason, "error": state.coverage_error}
        coverage.update(state.coverage.to_json() if state.coverage is not None else
                        {"rules": [], "raised": {}, "not_raised": {}, "missing": []})
        document = report_document(
            rootdir=config.rootpath, features_dir=relative(state.features, config.rootpath),
            rules_dir=relative(state.rules, config.rootpath), scenarios=state.records,
            coverage=coverage,
            refused=[{"file": r.file, "line": r.line, "problems": list(r.problems)}
                     for r in state.refused.values()])
        write_report(Path(config.invocation_params.dir, path), document)


def _check_coverage(session: pytest.Session, state: RunState) -> None:
    try:
        rules = [rule.id for rule in load_rules(state.rules).rules]
    except RulePackError as exc:
        state.coverage_error = (f"the rules in {relative(state.rules, session.config.rootpath)} "
                                f"did not load ({len(exc.problems)} problem(s))")
        rules = []
    state.coverage = compute(rules, state.records)
    if (state.coverage.missing() or state.coverage_error) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _coverage_failure(state: RunState) -> str | None:
    """The one line that says why rule coverage failed the run, or None when it did not."""
    if state.coverage_error:
        return f"FAILED policy rule coverage: {state.coverage_error}"
    if state.coverage is None:
        return None
    missing = state.coverage.missing()
    if not missing:
        return None
    parts = []
    for lack, words in (("raised", "rules without a passing scenario that raises them"),
                        ("not_raised", "rules without a passing near miss (not raised)")):
        rules = [rule for rule, lacks in missing if lack in lacks]
        if rules:
            parts.append(f"{words}: {', '.join(rules)}")
    return "FAILED policy rule coverage: " + "; ".join(parts)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.ran:
        return
    if state.reason is not None:
        terminalreporter.write_line(f"policy rule coverage: not checked, because {state.reason}")
        return
    if state.coverage_error:
        terminalreporter.section("policy rule coverage: not checked", sep="-", red=True)
        terminalreporter.write_line(f"{state.coverage_error}; the run fails until they load")
        return
    coverage = state.coverage
    assert coverage is not None
    missing = coverage.missing()
    failed = sum(1 for r in state.records if r["outcome"] == "failed")
    rules_label = relative(state.rules, config.rootpath)
    covered = len(coverage.rules) - len(missing)
    terminalreporter.section(
        f"policy rule coverage: {covered} of {len(coverage.rules)} rules covered",
        sep="-", red=bool(missing), green=not missing)
    for rule, lacks in missing:
        wanted = []
        if "raised" in lacks:
            wanted.append(f"a passing scenario where it is raised (Then {rule} is raised ...)")
        if "not_raised" in lacks:
            wanted.append(f"a passing near-miss scenario where it is not "
                          f"(Then {rule} is not raised)")
        terminalreporter.write_line(f"MISSING {rule}: needs " + ", and ".join(wanted))
    if missing:
        terminalreporter.write_line(
            f"Every rule in {rules_label} needs both; the run fails until each has them."
            + (f" ({failed} scenario(s) failed; a failing scenario does not count.)"
               if failed else ""))
