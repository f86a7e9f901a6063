"""Several sidecar replicas on one PostgreSQL database: how a request reaches the replica that
judges its events, how leases are kept, and how a reload reaches every replica.

Any replica takes any request. Its events are grouped by operation (tenant + country); the
lease table (`_leases.py`) says which replica holds each operation:

* an operation this replica holds, or that nobody holds (never taken, or its holder's lease
  ran out), is judged here, on the engine thread, which takes its lease first (and
  rebuilds its state from the store when it was another's);
* an operation another live replica holds is forwarded to that replica (the URL it
  advertised in its lease) over HTTP, on `/v1/internal/jobs`, authenticated by a secret
  the replicas share through the database (`replica_secret`); its answer is the answer a
  single server would give. That costs one loopback or LAN round trip and a JSON re-encoding
  of the forwarded part (docs/deployment.md);
* when the holder cannot be reached (killed, paused, cut off) the request waits and asks
  again: once the holder's lease has run out (`lease_seconds`), this replica takes the
  operation over and answers. A forwarded job is never forwarded again: the replica it
  reaches judges it or answers `not-owner`, and the first replica asks again.

A batch spanning several operations is split; each part is judged in order by its
operation's replica. Unlike one server, such a batch is not all-or-nothing across
operations: a part refused (a conflicting re-delivery, an event the engine refuses) is
answered as the batch's error while other operations' parts may be stored; sending the
batch again is safe (the stored ones are duplicates).

A reload on one replica is announced with ``NOTIFY mandate_rules_reload``; every other
replica reloads its own rule packs when it hears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import requests
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._database import DB_ERRORS, Connection, Target
from .._models import RulesVersion
from ._dbfile import connect_target
from ._errors import CODES, ApiError
from ._http import JSON, parse_json, read_body
from ._intake import check_depth, read_event
from ._jobs import ItemResult, Job, Preview, Submit
from ._leases import Holder, Leases
from ._rows import json_text

__all__ = ["Replica"]

log = logging.getLogger("mandate_rules.service")

RELOAD_CHANNEL = "mandate_rules_reload"
INTERNAL_PATH = "/v1/internal/jobs"
_SCHEME = "Replica "
# Errors after which the same operations are asked for again (the holder went, or let go).
_RETRY = frozenset({"not-owner", "not-ready"})
# Seconds a holder read from the lease table is trusted without reading it again.
_REMEMBER = 1.0


@attrs.frozen
class _Part:
    """Some of a job's events (their indices in the job), for one replica (url None: here)."""

    url: str | None
    countries: tuple[str, ...]
    indices: tuple[int, ...]


class _Unreachable(Exception):
    """The holder of a part did not answer."""


class Replica:
    """This process as one of several replicas: its leases, their renewer, the router."""

    def __init__(self, target: Target, url: str, lease_seconds: float,
                 max_body_bytes: int) -> None:
        self.id = f"{uuid.uuid4().hex[:12]}"
        self.url = url
        self.target = target
        self.lease_seconds = lease_seconds
        self.max_body_bytes = max_body_bytes
        self._timeout = max(30.0, 3 * lease_seconds)  # a request's whole wait for an owner
        self.leases = Leases(connect_target(target, reader=False, role="leases"), self.id, url,
                             lease_seconds)
        self.secret = self.leases.shared_secret()
        log.info("replica %s, reached by the others at %s; leases of %g s", self.id, url,
                 lease_seconds)
        self._http = requests.Session()
        self._http.trust_env = False  # replicas reach each other directly, never via a proxy
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=64)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # (tenant, country) -> (when read, its holder): used on the event loop only.
        self._holders: dict[tuple[str, str], tuple[float, Holder]] = {}

    # ---------------------------------------------------------------- the renewer

    def start(self, on_lost: Callable[[set[tuple[str, str]]], None],
              on_reload: Callable[[], object],
              on_orphans: Callable[[list[tuple[str, str]]], object]) -> None:
        """Renew the leases every third of their time, report those lost and the operations
        nobody holds (this replica's share of them), and hear reloads."""
        self._thread = threading.Thread(target=self._renew,
                                        args=(on_lost, on_reload, on_orphans),
                                        name="mandate-rules-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._http.close()

    def _renew(self, on_lost: Callable[[set[tuple[str, str]]], None],
               on_reload: Callable[[], object],
               on_orphans: Callable[[list[tuple[str, str]]], object]) -> None:
        listener: Connection | None = None
        period = self.lease_seconds / 3
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                lost, given = self.leases.renew()
                # Operations are shared out among the live replicas, one move a round: a
                # replica started (or restarted) later gets its part of the work.
                handed = self.leases.hand_over()
                if handed is not None:
                    lost.add(handed)
                if lost:
                    on_lost(lost)
                # A dead replica's operations, and those handed here, are taken up without
                # waiting for a request to them: their deadlines keep running.
                orphans = self.leases.orphans()
                if orphans or given:
                    on_orphans(sorted({*orphans, *given}))
            except DB_ERRORS as exc:  # the leases run out unless the database comes back
                log.warning("renewing the leases failed: %s", exc)
            try:
                if listener is None:
                    listener = connect_target(self.target, reader=False, role="listener")
                    listener.execute(f"LISTEN {RELOAD_CHANNEL}")
                wait = max(0.05, period - (time.monotonic() - started))
                for note in listener.raw.notifies(timeout=wait, stop_after=1):  # type: ignore[attr-defined]
                    if note.payload != self.id:
                        log.info("replica %s reloaded its rule packs: reloading", note.payload)
                        on_reload()
            except Exception as exc:  # a lost listener is opened again on the next round
                log.warning("listening for reloads failed: %s", exc)
                with contextlib.suppress(Exception):
                    if listener is not None:
                        listener.close()
                listener = None
                self._stop.wait(max(0.05, period - (time.monotonic() - started)))
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()

    def announce_reload(self) -> None:
        """Tell the other replicas that the rule packs were reloaded here."""
        try:
            self.leases.notify(RELOAD_CHANNEL, self.id)
        except DB_ERRORS as exc:
            log.warning("the other replicas could not be told of the reload: %s", exc)

    # ---------------------------------------------------------------- the router

    async def route(self, job: Job, local: Callable[[Job], Awaitable[Any]]) -> Any:
        """Run a Submit or Preview job where its operations are judged; `local` runs a job
        on this replica's engine thread."""
        if isinstance(job, Preview):
            results = await self._route(job.tenant, (job.event,), False, local, preview=True)
            return results[0]
        assert isinstance(job, Submit)
        return await self._route(job.tenant, job.events, job.batch, local)

    async def _route(self, tenant: str, events: Sequence[Any], batch: bool,
                     local: Callable[[Job], Awaitable[Any]], *,
                     preview: bool = False) -> list[ItemResult]:
        results: list[ItemResult | None] = [None] * len(events)
        by_country: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            by_country.setdefault(event.country, []).append(index)
        remaining = set(by_country)
        deadline = time.monotonic() + self._timeout
        delay = 0.05
        fresh = False  # whether the holders were read from the table on this round
        while True:
            # Operations this replica holds need no look-up (the engine thread checks again);
            # the others' holders are remembered for a moment (`_remembered`).
            mine = {c for c in remaining if self.leases.valid((tenant, c))}
            holders = self._remembered(tenant, remaining - mine) if not fresh else {}
            unknown = remaining - mine - set(holders)
            if unknown:
                looked = await run_in_threadpool(self.leases.holders, tenant, unknown)
                holders.update(looked)
                self._remember(tenant, looked)
            parts: dict[str | None, list[str]] = {}
            for country in sorted(remaining):
                holder = holders.get(country)
                here = country in mine or holder is None or not holder.live \
                    or holder.owner == self.id or not holder.url
                parts.setdefault(None if here else holder.url, []).append(country)  # type: ignore[union-attr]
            plan = [_Part(url, tuple(countries),
                          tuple(sorted(i for c in countries for i in by_country[c])))
                    for url, countries in parts.items()]
            outcomes = await asyncio.gather(
                *(self._run_part(part, tenant, events, batch, local, preview)
                  for part in plan), return_exceptions=True)
            failure: BaseException | None = None
            fresh = False
            for part, outcome in zip(plan, outcomes, strict=True):
                if isinstance(outcome, _Unreachable) or (
                        isinstance(outcome, ApiError) and outcome.code in _RETRY):
                    self._forget(tenant, part.countries)
                    fresh = True  # ask the table again, not the memory
                    continue
                if isinstance(outcome, BaseException):
                    failure = failure or _reindexed(outcome, part.indices, batch)
                    remaining.difference_update(part.countries)
                    continue
                for index, result in zip(part.indices, outcome, strict=True):
                    results[index] = result
                remaining.difference_update(part.countries)
            if failure is not None:
                raise failure
            if not remaining:
                return [r for r in results if r is not None]
            if time.monotonic() > deadline:
                raise ApiError("not-owner", f"operations {', '.join(sorted(remaining))} are "
                               "held by a replica that does not answer; nothing of them was "
                               "stored", "country", headers={"Retry-After": "5"})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _remembered(self, tenant: str, countries: set[str]) -> dict[str, Holder]:
        """The holders read from the table less than `_REMEMBER` seconds ago: a request to
        an operation another replica holds then costs no look-up. Stale for at most that
        long after a change of hands; a forward that fails forgets them and reads again."""
        now = time.monotonic()
        out = {}
        for country in countries:
            seen = self._holders.get((tenant, country))
            if seen is not None and now - seen[0] < _REMEMBER and seen[1].live:
                out[country] = seen[1]
        return out

    def _remember(self, tenant: str, holders: dict[str, Holder]) -> None:
        now = time.monotonic()
        if len(self._holders) > 100_000:  # bounded: many tenants and countries
            self._holders.clear()
        for country, holder in holders.items():
            self._holders[(tenant, country)] = (now, holder)

    def _forget(self, tenant: str, countries: Sequence[str]) -> None:
        for country in countries:
            self._holders.pop((tenant, country), None)

    async def _run_part(self, part: _Part, tenant: str, events: Sequence[Any], batch: bool,
                        local: Callable[[Job], Awaitable[Any]],
                        preview: bool) -> list[ItemResult]:
        chosen = tuple(events[i] for i in part.indices)
        if part.url is None:
            if preview:
                return [await local(Preview(tenant=tenant, event=chosen[0]))]
            out: list[ItemResult] = await local(
                Submit(tenant=tenant, events=chosen, batch=batch))
            return out
        body = json_text({"kind": "preview" if preview else "submit", "tenant": tenant,
                          "batch": batch, "events": [e.to_json() for e in chosen]})
        return await run_in_threadpool(self._forward, part.url, body)

    def _forward(self, url: str, body: str) -> list[ItemResult]:
        try:
            response = self._http.post(
                url + INTERNAL_PATH, data=body.encode("utf-8"),
                headers={"Content-Type": JSON, "Authorization": _SCHEME + self.secret},
                timeout=(2.0, self.lease_seconds))
        except requests.RequestException as exc:
            log.info("replica %s did not answer (%s): asking again", url, type(exc).__name__)
            raise _Unreachable(url) from exc
        try:
            doc = response.json()
        except ValueError:
            raise _Unreachable(url) from None
        if response.status_code != 200:
            error = doc.get("error", {}) if isinstance(doc, dict) else {}
            details = {k: v for k, v in error.items() if k not in ("code", "message", "path")}
            headers = {"Retry-After": response.headers["Retry-After"]} \
                if "Retry-After" in response.headers else None
            code = str(error.get("code"))
            raise ApiError(code if code in CODES else "internal",
                           str(error.get("message", "")), error.get("path"), headers=headers,
                           **details)
        return [ItemResult(item["event"], bool(item["duplicate"]),
                           RulesVersion(item["rules_version"]["version"],
                                        item["rules_version"]["hash"]),
                           tuple(json_text(a) for a in item["advisories"]))
                for item in doc["results"]]

    # ---------------------------------------------------------------- the other side

    def routes(self, local: Callable[[Job], Awaitable[Any]],
               error: Callable[[ApiError], Response]) -> list[Route]:
        """`/v1/internal/jobs`: a job another replica forwards here, run on this engine."""
        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            if not (given.startswith(_SCHEME) and hmac.compare_digest(
                    given[len(_SCHEME):].encode(), self.secret.encode())):
                return error(ApiError("unauthorized", "only another replica may send this"))
            try:
                doc = check_depth(parse_json(await read_body(request, self.max_body_bytes
                                                             * 2)))
                events = tuple(read_event(e) for e in doc["events"])
                tenant = str(doc["tenant"])
                if doc.get("kind") == "preview":
                    results = [await local(Preview(tenant=tenant, event=events[0]))]
                else:
                    results = await local(Submit(tenant=tenant, events=events,
                                                 batch=bool(doc["batch"])))
            except ApiError as exc:
                return error(exc)
            except (KeyError, TypeError, IndexError) as exc:
                return error(ApiError("malformed-json", f"not a forwarded job: {exc!r}",
                                      "body"))
            text = '{"results":[' + ",".join(r.json_text() for r in results) + "]}"
            return Response(text, media_type=JSON)

        return [Route(INTERNAL_PATH, endpoint, methods=["POST"])]


def _reindexed(exc: BaseException, indices: tuple[int, ...], batch: bool) -> BaseException:
    """An error about a part of a batch, its event index (and path) put back in the whole
    batch's numbering."""
    if not batch or not isinstance(exc, ApiError):
        return exc
    index = exc.details.get("index")
    if isinstance(index, int) and 0 <= index < len(indices):
        exc.details["index"] = indices[index]
        if exc.path is not None and exc.path.startswith(f"[{index}]"):
            exc.path = f"[{indices[index]}]" + exc.path[len(f"[{index}]"):]
    return exc

