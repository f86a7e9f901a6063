"""Engines reused from one policy scenario to the next, so a run does not build one per scenario."""

from __future__ import annotations

import json

import attrs

from .._context import ContextProfile
from .._engine import Engine
from .._rules import Bundle

__all__ = ["EnginePool"]


class EnginePool:
    """Engines reused from one scenario to the next, one kind per bundle and profile.

    Building an Engine costs tens of milliseconds (durable_rules compiles every ruleset), which
    dominates a run of a few hundred scenarios. A scenario takes an idle engine built on the
    same bundle with the same scenario profile (or none) when there is one; the engine's
    per-operation state (windows, deadlines, seen events) is cleared first, so nothing carries
    over from the previous scenario. The Engine has no public reset; if its state cannot be
    cleared, a new engine is built instead.
    """

    def __init__(self, size: int = 64) -> None:
        # (id of the loaded bundle, scenario profile) -> (that bundle, the bundle the engines
        # are built on, the idle engines); holding the bundle keeps its id from being reused
        self._idle: dict[tuple[int, str], tuple[Bundle, Bundle, list[Engine]]] = {}
        self._size = size

    @staticmethod
    def _key(bundle: Bundle, profile: ContextProfile | None) -> tuple[int, str]:
        if profile is None:
            return id(bundle), ""
        return id(bundle), json.dumps(profile.to_json(), sort_keys=True)

    def take(self, bundle: Bundle, profile: ContextProfile | None) -> Engine:
        key = self._key(bundle, profile)
        entry = self._idle.get(key)
        if entry is None or entry[0] is not bundle:
            built = bundle if profile is None else attrs.evolve(
                bundle, contexts={**bundle.contexts, profile.country: profile})
            while len(self._idle) >= self._size:
                self._idle.pop(next(iter(self._idle)))
            entry = self._idle[key] = (bundle, built, [])
        _, built, idle = entry
        while idle:
            engine = idle.pop()
            if _reset(engine):
                return engine
        return Engine(built)

    def give_back(self, bundle: Bundle, profile: ContextProfile | None, engine: Engine) -> None:
        entry = self._idle.get(self._key(bundle, profile))
        if entry is not None and entry[0] is bundle and engine.bundle is entry[1]:
            entry[2].append(engine)


def _reset(engine: Engine) -> bool:
    """Forget every operation's state; True when the engine is then as good as new."""
    engine.reset()
    return engine.state_size() == {"operations": 0}
