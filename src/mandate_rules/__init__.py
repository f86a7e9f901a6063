"""mandate-rules: advisories on humanitarian neutrality and the use of military and mission assets.

Events from case-management and field-data systems go in; advisories come out, each with its
severity, plain advice, actions, citations and an explanation of why it fired. It advises;
it never blocks.

    >>> from mandate_rules import Engine, Event
    >>> engine = Engine.bundled()
    >>> advisories = engine.evaluate(Event.from_json(cloud_event))  # doctest: +SKIP

Everything importable from here is public; the modules starting with an underscore are not.
"""

from ._context import ContextProfile
from ._engine import Engine, bundled_rules_dir
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
