"""The rule packs the sidecar runs: the live bundle and, in shadow mode, the candidate."""

from __future__ import annotations

import attrs

from .._errors import RulePackError
from .._loader import load_bundle
from .._problems import Problem
from .._resources import bundled_rules_dir
from .._rules import Bundle
from ._config import ServiceConfig


@attrs.frozen
class Bundles:
    live: Bundle
    shadow: Bundle | None


def load_bundles(config: ServiceConfig) -> Bundles:
    """The live and candidate rule packs; `RulePackError` with every problem of both."""
    problems: list[Problem] = []
    live = shadow = None
    try:
        live = load_bundle(config.rules_dir or bundled_rules_dir(), config.contexts_dir)
    except RulePackError as exc:
        problems.extend(exc.problems)
    if config.shadow_dir is not None:
        try:
            shadow = load_bundle(config.shadow_dir)
        except RulePackError as exc:
            problems.extend(exc.problems)
    if problems or live is None:
        raise RulePackError(problems)
    return Bundles(live, shadow)
