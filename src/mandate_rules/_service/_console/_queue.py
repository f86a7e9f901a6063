"""The queue: a tenant's advisories, most severe and newest first, filtered and paged.

It filters through the same condition as `GET /v1/advisories` (`advisory_conditions`) and
reads the same stored rows; only the order and the paging are its own. The order needs a
sort of every advisory the filter keeps, so the sort carries only each row's seq and the
bodies of one page are read afterwards (sorting 10,000 whole bodies takes far longer).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .._reads import StoreReads, advisory_conditions
from .._rows import AdvisoryFilter
from ._present import STATUSES, advisory_row
from ._recordlink import record_addresses
from ._web import Console, PageError, Visit

SEVERITIES = ("critical", "warning", "advice", "info")
PAGE_SIZE = 50
_RANK = ("CASE severity WHEN 'critical' THEN 4 WHEN 'warning' THEN 3 WHEN 'advice' THEN 2 "
         "ELSE 1 END")
_MAX_TEXT = 200


@attrs.frozen
class Filters:
    """What the queue's form asks for, as given (for the form and the paging links)."""

    country: str = ""
    area: str = ""
    rule: str = ""
    severity: str = ""
    status: str = "open"
    since: str = ""
    until: str = ""

    def where(self) -> AdvisoryFilter:
        return AdvisoryFilter(
            country=self.country or None, area=self.area or None,
            rules=(self.rule,) if self.rule else (),
            severities=(self.severity,) if self.severity else (),
            statuses=(self.status,) if self.status != "any" else (),
            since=_day(self.since, "since", 0), until=_day(self.until, "until", 1))

    def query(self, page: int | None = None) -> dict[str, str]:
        """The filters as query parameters (those not at their default), and a page."""
        out = {k: v for k, v in attrs.asdict(self).items() if v and (k, v) != ("status", "open")}
        if page is not None and page > 1:
            out["page"] = str(page)
        return out


def _day(text: str, name: str, plus: int) -> float | None:
    """A date of the form as a timestamp: the start of that day (UTC), or of the next."""
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise PageError(400, "Filter not understood", f"{name}: expected a date such as "
                        f"2026-11-20, got {text[:40]!r}") from None
    start = dt.datetime.combine(day + dt.timedelta(days=plus), dt.time(), tzinfo=dt.UTC)
    return start.timestamp()


def read_filters(params: Mapping[str, str], rule_ids: set[str]) -> tuple[Filters, int]:
    """The queue's filters and page from the query, each bad value named."""
    def text(name: str) -> str:
        value = params.get(name, "").strip()
        if len(value) > _MAX_TEXT:
            raise PageError(400, "Filter not understood", f"{name}: at most {_MAX_TEXT} "
                            f"characters")
        return value

    filters = Filters(country=text("country").upper(), area=text("area"), rule=text("rule"),
                      severity=text("severity"), status=text("status") or "open",
                      since=text("since"), until=text("until"))
    for name, value, allowed in (("severity", filters.severity, SEVERITIES),
                                 ("status", filters.status, (*STATUSES, "any"))):
        if value and value not in allowed:
            raise PageError(400, "Filter not understood", f"{name}: expected one of "
                            f"{', '.join(allowed)}, got {value[:40]!r}")
    if filters.rule and filters.rule not in rule_ids:
        raise PageError(400, "Filter not understood", f"rule: no rule {filters.rule[:40]!r} "
                        f"in the running rule packs")
    filters.where()  # the dates, checked now
    raw_page = params.get("page", "1")
    if not (raw_page.isascii() and raw_page.isdigit() and 1 <= len(raw_page) <= 6) \
            or int(raw_page) < 1:
        raise PageError(400, "Filter not understood", f"page: expected a whole number from "
                        f"1, got {raw_page[:40]!r}")
    return filters, int(raw_page)


def queue_page(store: StoreReads, tenant: str, where: AdvisoryFilter, page: int,
               size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], int]:
    """One page of the tenant's advisories that `where` keeps, most severe and newest
    first (each with its record's web address as its event gave it, `record_url`), and how
    many it keeps in all."""
    conn = store._reader()  # the store's reading connection of this thread
    conditions, args = advisory_conditions(conn, tenant, where)
    total = int(conn.execute("SELECT count(*) FROM advisories WHERE " + conditions,
                             args).fetchone()[0])
    seqs = [r[0] for r in conn.execute(
        f"SELECT seq FROM advisories WHERE {conditions} "
        f"ORDER BY {_RANK} DESC, raised_ts DESC, seq DESC LIMIT ? OFFSET ?",
        [*args, size, (page - 1) * size])]
    if not seqs:
        return [], total
    rows = {r["seq"]: r for r in conn.execute(
        f"SELECT seq, body, status FROM advisories WHERE tenant = ? "
        f"AND seq IN ({', '.join('?' * len(seqs))})", [tenant, *seqs])}
    items = [{**json.loads(rows[s]["body"]), "status": rows[s]["status"]}
             for s in seqs if s in rows]
    for item, address in zip(items, record_addresses(conn, tenant, items), strict=True):
        item["record_url"] = address
    return items, total


async def queue(console: Console, visit: Visit) -> Response:
    bundle = console.service.bundles.live
    filters, page = read_filters(visit.request.query_params, {r.id for r in bundle.rules})
    items, total = await run_in_threadpool(queue_page, console.service.store,
                                           visit.principal.tenant, filters.where(), page)
    pages = max(1, -(-total // PAGE_SIZE))
    contexts = bundle.contexts
    return console.render(
        visit, "queue.html", filters=filters, page=page, pages=pages, total=total,
        rows=[advisory_row(item, item["record_url"]) for item in items],
        rules=sorted((r.id, r.title) for r in bundle.rules),
        severities=SEVERITIES, statuses=(*STATUSES, "any"),
        countries=sorted(contexts), areas=sorted({a for c in contexts.values()
                                                  for a in c.areas}),
        prev_query=filters.query(page - 1) if page > 1 else None,
        next_query=filters.query(page + 1) if page < pages else None)
