"""The rules page: every running rule in plain words (as `mandate-rules explain` says it),
and, when candidate rule packs run in shadow mode, what they would change, as tables."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..._compare import DROP, RAISE, SEVERITY
from ..._render import explain_rule
from ._web import Console, Visit

#: Changes listed on the page; the summary counts them all.
SHADOW_CHANGES = 200
CHANGE_WORDS = MappingProxyType({RAISE: "would raise", DROP: "would no longer raise",
                                 SEVERITY: "would grade differently"})


async def rules(console: Console, visit: Visit) -> Response:
    bundles = console.service.bundles
    shadow: dict[str, Any] | None = None
    if bundles.shadow is not None and visit.may("read"):
        diff = await run_in_threadpool(console.service.store.shadow_diff,
                                       visit.principal.tenant, bundles.shadow.version.hash, 0,
                                       SHADOW_CHANGES)
        shadow = {"version": bundles.shadow.version, **diff,
                  "summary_rows": sorted(diff["summary"].items())}
    return console.render(
        visit, "rules.html", version=bundles.live.version, shadow=shadow,
        change_words=CHANGE_WORDS,
        rules=[{"id": r.id, "title": r.title, "pack": r.pack, "severity": r.severity.value,
                "text": explain_rule(r)} for r in bundles.live.rules])
