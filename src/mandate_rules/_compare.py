"""What candidate rule packs would change: the one comparison of two rule sets' advisories.

Both the sidecar's shadow mode (`GET /v1/shadow/diff`, from the advisories it stored) and the
`mandate-rules diff` command (from two engines run over a file of events) compare through
here, so that the two always agree on what counts as the same advisory and as a change.

Two advisories are the same when they are about the same thing: the same rule, trigger and
evidence (`match_key`). Their ids cannot be compared, since an id includes the rule packs'
hash, which differs between the live and the candidate packs by definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import attrs

from ._models import Advisory, RulesVersion

RAISE = "raise"  # the candidate raises it; the live rules do not
DROP = "drop"  # the live rules raise it; the candidate does not
SEVERITY = "severity"  # both raise it, at different severities
KINDS = (RAISE, DROP, SEVERITY)


def match_key(advisory: Advisory) -> str:
    """What an advisory is about, whatever the rule packs' version: rule, trigger, evidence."""
    digest = hashlib.sha256(f"{advisory.rule_id}\0{advisory.trigger}".encode())
    for ref in advisory.evidence:
        digest.update(f"\0{ref.source}\0{ref.id}".encode())
    return digest.hexdigest()[:32]


@attrs.frozen
class Compared:
    """The part of an advisory the comparison reads (the sidecar reads it from its store)."""

    id: str
    rule_id: str
    severity: str
    rules_version: RulesVersion
    match_key: str

    @classmethod
    def of(cls, advisory: Advisory) -> Compared:
        return cls(id=advisory.id, rule_id=advisory.rule_id, severity=advisory.severity.value,
                   rules_version=advisory.rules_version, match_key=match_key(advisory))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity,
                "rules_version": self.rules_version.to_json()}


@attrs.frozen
class Change:
    """One difference for one event: an advisory raised (`live` None), dropped (`candidate`
    None), or raised by both at different severities."""

    kind: str
    rule_id: str
    live: Compared | None
    candidate: Compared | None

    def to_json(self) -> dict[str, Any]:
        return {"change": self.kind, "rule_id": self.rule_id,
                "live": self.live.to_json() if self.live is not None else None,
                "candidate": self.candidate.to_json() if self.candidate is not None else None}


def compare(live: Iterable[Compared], candidate: Iterable[Compared]) -> tuple[Change, ...]:
    """What differs between the advisories the live and the candidate packs raised for one
    event (or clock tick): raised, then dropped, then regraded, each by rule."""
    mine = {a.match_key: a for a in live}
    theirs = {a.match_key: a for a in candidate}

    def order(key: str) -> tuple[str, str]:
        return ((mine.get(key) or theirs[key]).rule_id, key)

    out = [Change(RAISE, theirs[k].rule_id, None, theirs[k])
           for k in sorted(theirs.keys() - mine.keys(), key=order)]
    out += [Change(DROP, mine[k].rule_id, mine[k], None)
            for k in sorted(mine.keys() - theirs.keys(), key=order)]
    out += [Change(SEVERITY, mine[k].rule_id, mine[k], theirs[k])
            for k in sorted(mine.keys() & theirs.keys(), key=order)
            if mine[k].severity != theirs[k].severity]
    return tuple(out)


def tally(changes: Iterable[Change],
          summary: dict[str, dict[str, int]] | None = None) -> dict[str, dict[str, int]]:
    """The changes per rule and kind: `changes` counted into `summary` (a new one when None),
    which is returned, so that a long comparison counts as it goes."""
    out = {} if summary is None else summary
    for change in changes:
        counts = out.setdefault(change.rule_id, dict.fromkeys(KINDS, 0))
        counts[change.kind] += 1
    return out
