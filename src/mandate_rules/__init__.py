"""mandate-rules: advisories on humanitarian neutrality and the use of military and mission assets.

Events from case-management and field-data systems go in; advisories come out, each with its
severity, plain advice, actions, citations and an explanation of why it fired. It advises;
it never blocks.

    >>> from mandate_rules import Engine, Event
    >>> engine = Engine.bundled()
    >>> advisories = engine.evaluate(Event.from_json(cloud_event))  # doctest: +SKIP

Everything importable from here is public; the modules starting with an underscore are not.
"""

import importlib as _importlib
import typing as _typing
from importlib import metadata as _metadata
from pathlib import Path as _Path
from types import MappingProxyType as _MappingProxyType

# Only the public names are bound here without an underscore (tests/test_public_api.py); the
# type checker reads these imports, Python reads the table below.
if _typing.TYPE_CHECKING:
    from ._context import ContextProfile
    from ._engine import Engine
    from ._errors import (
        EngineError,
        EventValidationError,
        MandateRulesError,
        RulePackError,
        SnapshotError,
        UnknownRuleError,
    )
    from ._loader import check_bundle, load_bundle
    from ._models import (
        Advisory,
        Event,
        EventRef,
        ExplanationItem,
        Reference,
        RulesVersion,
        Severity,
    )
    from ._problems import Problem
    from ._resources import bundled_rules_dir
    from ._rules import Bundle, Rule, Trigger

__all__ = [
    "Advisory",
    "Bundle",
    "ContextProfile",
    "Engine",
    "EngineError",
    "Event",
    "EventRef",
    "EventValidationError",
    "ExplanationItem",
    "MandateRulesError",
    "Problem",
    "Reference",
    "Rule",
    "RulePackError",
    "RulesVersion",
    "Severity",
    "SnapshotError",
    "Trigger",
    "UnknownRuleError",
    "bundled_rules_dir",
    "check_bundle",
    "load_bundle",
]

# Each public name and the private module that defines it. They are imported when first used
# (PEP 562), so a program that needs only the event and advisory models (an adapter, through
# mandate_rules.adapters) never loads the engine and durable_rules' C core.
_HOMES = _MappingProxyType({
    "Advisory": "_models",
    "Bundle": "_rules",
    "ContextProfile": "_context",
    "Engine": "_engine",
    "EngineError": "_errors",
    "Event": "_models",
    "EventRef": "_models",
    "EventValidationError": "_errors",
    "ExplanationItem": "_models",
    "MandateRulesError": "_errors",
    "Problem": "_problems",
    "Reference": "_models",
    "Rule": "_rules",
    "RulePackError": "_errors",
    "RulesVersion": "_models",
    "Severity": "_models",
    "SnapshotError": "_errors",
    "Trigger": "_rules",
    "UnknownRuleError": "_errors",
    "bundled_rules_dir": "_resources",
    "check_bundle": "_loader",
    "load_bundle": "_loader",
})


def _version() -> str:
    """The installed distribution's version; in a source checkout on the path without an
    install, the one its pyproject.toml declares; failing both, ``0+unknown``."""
    try:
        return _metadata.version("mandate-rules")
    except _metadata.PackageNotFoundError:
        pass  # a source checkout on the path, never installed: read its pyproject.toml
    pyproject = _Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        text = pyproject.read_text("utf-8")
    except OSError:
        return "0+unknown"
    import tomllib  # noqa: PLC0415 - needed only in this rare case

    project = tomllib.loads(text).get("project", {})
    version = project.get("version") if project.get("name") == "mandate-rules" else None
    return version if isinstance(version, str) else "0+unknown"


__version__ = _version()


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # the next lookup finds it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
