"""The operation page of one country: advisories per week, the civil-military footprint per
week, and the context profile in force.

Read from the tenant's stored advisories and events. The footprint counts records, not
versions: an escort request sent three times in a week (edits) is one request that week,
as its last version that week says. An escort request "has alternatives documented" when
its `alternatives_considered` lists at least one; an asset request is a military or mission
asset's when `asset.owner_kind` is one of `MILITARY_OR_MISSION`; a communication is joint
when a co-author or a logo is theirs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..._rules import Bundle
from .._reads import StoreReads
from ._web import Console, PageError, Visit

MILITARY_OR_MISSION = frozenset({
    "mission_military", "mission_police", "mission_political", "mission_civilian",
    "national_military", "foreign_military", "civil_defence"})
SEVERITY_ORDER = ("critical", "warning", "advice", "info")
_FOOTPRINT_TYPES = ("escort.request", "asset.request", "communication.publication")


def week_of(when: str) -> str:
    """The Monday (UTC) of the week an RFC 3339 time falls in, as a date."""
    moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(dt.UTC)
    return (moment.date() - dt.timedelta(days=moment.weekday())).isoformat()


def week_label(monday: str) -> str:
    day = dt.date.fromisoformat(monday)
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d} (from {day.day} {day.strftime('%b')})"


def _weeks(keys: Iterable[str]) -> list[str]:
    """Every week from the first to the last, so an empty week shows as a zero."""
    found = sorted(set(keys))
    if not found:
        return []
    out, day, last = [], dt.date.fromisoformat(found[0]), dt.date.fromisoformat(found[-1])
    while day <= last:
        out.append(day.isoformat())
        day += dt.timedelta(days=7)
    return out


def operations(store: StoreReads, tenant: str) -> list[str]:
    """The countries the tenant has sent events about."""
    return [r[0] for r in store._reader().execute(
        "SELECT DISTINCT country FROM events WHERE tenant = ? AND kind = 'event' "
        "ORDER BY country", (tenant,))]


def operation_data(store: StoreReads, tenant: str, country: str,
                   groups: Mapping[str, str]) -> dict[str, Any]:
    """The operation page's figures for `country` (`groups`: rule id to its rule pack)."""
    conn = store._reader()
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    by_severity: dict[str, Counter[str]] = defaultdict(Counter)
    for row in conn.execute("SELECT rule_id, severity, raised_at FROM advisories "
                            "WHERE tenant = ? AND country = ?", (tenant, country)):
        week = week_of(row["raised_at"])
        by_group[week][groups.get(row["rule_id"], row["rule_id"].split("-")[0])] += 1
        by_severity[week][row["severity"]] += 1
    # The last version of each record in each week.
    latest: dict[tuple[str, str, str], tuple[str, Mapping[str, Any]]] = {}
    updates: list[dict[str, Any]] = []
    for row in conn.execute(
            f"SELECT type, time, body FROM events WHERE tenant = ? AND country = ? "
            f"AND kind = 'event' AND type IN ({', '.join('?' * len(_FOOTPRINT_TYPES))}, "
            f"'context.update') ORDER BY seq", (tenant, country, *_FOOTPRINT_TYPES)):
        body = json.loads(row["body"])
        data = body.get("data") or {}
        if row["type"] == "context.update":
            updates.append({"time": row["time"], "id": body.get("id"),
                            "area": data.get("area_scope") or "the whole country",
                            "changed": data.get("changed_fields") or sorted(
                                k for k in data if k not in ("area_scope", "changed_fields",
                                                             "effective_from", "source")),
                            "source": data.get("source") or ""})
            continue
        key = (week_of(row["time"]), row["type"], str(data.get("entity_id") or body["id"]))
        if key not in latest or latest[key][0] <= row["time"]:
            latest[key] = (row["time"], data)
    footprint: dict[str, Counter[str]] = defaultdict(Counter)
    for (week, kind, _), (_, data) in latest.items():
        counts = footprint[week]
        if kind == "escort.request":
            counts["escorts"] += 1
            counts["escorts_with_alternatives"] += bool(data.get("alternatives_considered"))
        elif kind == "asset.request":
            owner = (data.get("asset") or {}).get("owner_kind")
            counts["assets"] += owner in MILITARY_OR_MISSION
        elif _joint(data):
            counts["joint_communications"] += 1
    advisory_weeks = _weeks([*by_group, *by_severity])
    footprint_weeks = _weeks(footprint)
    group_names = sorted({g for c in by_group.values() for g in c})
    return {
        "advisory_weeks": [{"week": w, "label": week_label(w),
                            "groups": [by_group[w][g] for g in group_names],
                            "severities": [by_severity[w][s] for s in SEVERITY_ORDER]}
                           for w in advisory_weeks],
        "group_names": group_names,
        "footprint": [{"week": w, "label": week_label(w), **_shares(footprint[w])}
                      for w in footprint_weeks],
        "updates": updates,
    }


def _joint(data: Mapping[str, Any]) -> bool:
    kinds = [c.get("kind") for c in data.get("co_authors") or [] if isinstance(c, dict)]
    kinds += [lg.get("owner_kind") for lg in data.get("logos") or [] if isinstance(lg, dict)]
    return any(kind in MILITARY_OR_MISSION for kind in kinds)


def _shares(counts: Counter[str]) -> dict[str, Any]:
    escorts = counts["escorts"]
    with_alternatives = counts["escorts_with_alternatives"]
    return {"escorts": escorts, "assets": counts["assets"],
            "joint_communications": counts["joint_communications"],
            "escorts_with_alternatives": with_alternatives,
            "alternatives_share": (round(100 * with_alternatives / escorts)
                                   if escorts else None)}


def _groups(bundle: Bundle) -> dict[str, str]:
    return {rule.id: rule.pack for rule in bundle.rules}


async def operations_index(console: Console, visit: Visit) -> Response:
    found = await run_in_threadpool(operations, console.service.store,
                                    visit.principal.tenant)
    contexts = console.service.bundles.live.contexts
    return console.render(visit, "operations.html", countries=[
        {"code": c, "name": contexts[c].name if c in contexts else ""} for c in found])


async def operation(console: Console, visit: Visit) -> Response:
    country = visit.request.path_params["country"].upper()
    if not (country.isascii() and country.isalpha() and 2 <= len(country) <= 3):
        raise PageError(404, "Not found", f"{country[:20]!r} is not a country code such as "
                        f"SOM")
    bundle = console.service.bundles.live
    data = await run_in_threadpool(operation_data, console.service.store,
                                   visit.principal.tenant, country, _groups(bundle))
    profile = bundle.contexts.get(country)
    return console.render(visit, "operation.html", country=country,
                          profile=profile.to_json() if profile is not None else None,
                          profile_lines=_lines(profile.to_json()["profile"]) if profile else [],
                          area_lines={area: _lines(values) for area, values in
                                      (profile.to_json()["areas"] if profile else {}).items()},
                          severities=SEVERITY_ORDER, **data)


def _lines(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A profile's values as (dotted name, value in words) pairs."""
    out: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out += _lines(value, name + ".")
        elif isinstance(value, list):
            out.append((name, "; ".join(json.dumps(v, ensure_ascii=False)
                                        if isinstance(v, dict | list) else str(v)
                                        for v in value) or "none"))
        elif isinstance(value, bool):
            out.append((name, "yes" if value else "no"))
        else:
            out.append((name, str(value)))
    return out
