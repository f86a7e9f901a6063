"""The matcher: the one module that talks to durable_rules.

It owns a `durable.engine.Host` of its own (never the global host of `durable.lang`), with
rulesets named uniquely per matcher, so two engines in one process never share state.

How it stays clear of durable_rules' traps (docs/engine.md lists each, with the test that
keeps its answer honest):

* **Every matching rule fires.** The event is asserted as a *fact*, which fires every rule
  it matches (a posted event is consumed by the first match), then retracted at once. No
  fact outlives a call, so no state accumulates inside durable_rules at all, and no sid
  other than the default one is ever created (no 1024-sid cap, no 32-bit sid collisions,
  no ``delete_state`` crash path).
* **No Python actions.** durable_rules' action protocol (``Closure``/``Promise``, one
  ``update_state`` JSON round trip per fired rule) costs ~20 µs per fired rule and is where
  its threading bugs live. A match here is only a record of the rule's name, so the matcher
  drives the C core's action loop itself: ``start_action_for_state`` then
  ``complete_and_start_action`` until it is empty. The registered ``run`` callables exist
  because `Ruleset` requires them; they are never called.
* **No background threads.** `Host` normally starts two self-rearming timer threads that
  call into the C core concurrently with the caller; they serve timers and deferred
  actions, neither of which is used here, so `_QuietHost` does not start them.
* **One caller at a time.** The C core is not re-entrant; the `Engine` holds its lock
  around every call into the matcher.
"""

from __future__ import annotations

import copy
import decimal
import itertools
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import durable_rules_engine
from durable import engine as durable_engine

from ._errors import EngineError

_EXPONENT = re.compile(r"[0-9][eE][-+]?[0-9]")
# One encoder, made once: `json.dumps` with any option builds a new encoder per call, which
# cost as much as encoding a fact. Facts are fresh trees of plain JSON, never circular.
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def _to_json(fact: dict[str, Any]) -> str:
    """The fact as JSON that durable_rules' reader accepts.

    Python writes some floats with an exponent (``1e-05``, ``1e+16``), which durable_rules'
    JSON reader refuses (error 204). Such numbers are rare, so the fast path is plain
    `json.dumps`; only when one occurs are they re-written in positional notation, always
    with a decimal point: a bare integer past 2**63 is clamped by that reader, and two
    different numbers would then compare equal.
    """
    text = _ENCODE(fact)
    if _EXPONENT.search(text) is None:
        return text
    tokens: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, float) and "e" in repr(value):
            token = f"\u0000num{len(tokens)}\u0000"
            positional = format(decimal.Decimal(repr(value)), "f")
            tokens[token] = positional if "." in positional else positional + ".0"
            return token
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    marked = mark(fact)
    if not tokens:
        return text
    text = json.dumps(marked, ensure_ascii=False)
    for token, number in tokens.items():
        text = text.replace(json.dumps(token), number)
    return text


class RulesRefused(EngineError):
    """Raised when durable_rules refuses to register compiled rules (a fixed limit of its C
    core, such as 31 expressions in one rule, error 113). `refused` maps each refused rule's
    compiled name to durable_rules' message."""

    def __init__(self, refused: Mapping[str, str]) -> None:
        self.refused = dict(refused)
        super().__init__("durable_rules refused compiled rules: " + "; ".join(
            f"{name}: {message}" for name, message in self.refused.items()))


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the background dispatch threads (see the module docstring)."""

    def _run(self) -> None:
        return None


def _never(_closure: Any) -> None:  # pragma: no cover - never called, see module docstring
    raise AssertionError("mandate_rules never runs durable_rules actions")


class Matcher:
    """Compiled rulesets per event type, and the call that says which rules a fact matches."""

    def __init__(self, rulesets: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self._host = _QuietHost()
        self._prefix = f"mr-{uuid.uuid4().hex[:12]}"
        self._handles: dict[str, list[Any]] = {}
        self._ids = itertools.count(1)
        for event_type, chunks in rulesets.items():
            handles = []
            for index, chunk in enumerate(chunks):
                name = f"{self._prefix}-{event_type}-{index}"
                # Ruleset() deletes each rule's 'run' from the dict it is given: pass a copy.
                definition = {rule: {**copy.deepcopy(dict(body)), "run": _never}
                              for rule, body in chunk.items()}
                try:
                    self._host.register_rulesets({name: definition})
                except Exception as exc:
                    raise RulesRefused(self._culprits(chunk, exc)) from exc
                handles.append(self._host.get_ruleset(name)._handle)
            self._handles[event_type] = handles

    def _culprits(self, chunk: Mapping[str, Any], error: Exception) -> dict[str, str]:
        """Which rules of a refused ruleset durable_rules refuses on their own, and why."""
        refused: dict[str, str] = {}
        for rule, body in chunk.items():
            probe = f"{self._prefix}-probe-{next(self._ids)}"
            try:
                self._host.register_rulesets({probe: {rule: {**copy.deepcopy(dict(body)),
                                                             "run": _never}}})
            except Exception as exc:
                refused[rule] = str(exc)
        return refused or {name: str(error) for name in list(chunk)[:1]}

    def match(self, event_type: str, fact: dict[str, Any]) -> list[str]:
        """The names of every rule of `event_type` that `fact` matches, each once.

        durable_rules splits a rule whose condition has alternatives (``$or``) into one path
        per alternative, and a fact meeting several alternatives fires the rule once per path;
        the names are therefore de-duplicated here. The caller holds the engine's lock.
        """
        handles = self._handles.get(event_type)
        if not handles:
            return []
        fact["id"] = next(self._ids)
        text = _to_json(fact)
        fired: list[str] = []
        for handle in handles:
            try:
                code, state = durable_rules_engine.assert_fact(handle, text)
            except Exception as exc:
                raise EngineError(f"durable_rules refused a {event_type} event: {exc}") from exc
            try:
                if code == 0:
                    result = durable_rules_engine.start_action_for_state(handle, state)
                    message = result[1] if result else None
                    while message:
                        # The message is {"<rule name>": <the whole fact>}; the compiler names
                        # rules r0, r1, …, so the name is read without parsing the fact back.
                        fired.append(message[2:message.index('"', 2)])
                        message = durable_rules_engine.complete_and_start_action(handle, state)
                elif code != 1:  # 1: matched no rule
                    raise EngineError(f"durable_rules answered code {code} for a {event_type} "
                                      "event")
            finally:
                durable_rules_engine.retract_fact(handle, text)
        return list(dict.fromkeys(fired))
