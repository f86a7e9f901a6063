"""Push receivers and write-back for the HTTP sidecar (`mandate-rules serve`).

``POST /v1/adapters/{connection}/push`` takes what a source pushes: a KoboToolbox REST
Service call (one submission per POST), a Primero webhook, a CommCare data-forwarding body
(JSON case or form). The sender proves itself with the connection's shared secret, in the
way each source can send one: an ``X-API-Key`` header (Primero ``api_key``, a Kobo or
CommCare custom header), HTTP Basic whose password is the secret (Kobo ``basic_auth``,
Primero ``basic_auth``, CommCare Basic), or a bearer token (CommCare).

The answer comes once the new events are evaluated and stored (the engine is fast; the
write-back is not waited for), and it is idempotent: the sources retry, a record seen before
with the same content is acknowledged and not evaluated again, and an event the sidecar
stored before is a duplicate for the engine. Anything that may pass later (the engine
starting or rebuilding, no answer within ``answer_within_seconds`` because of a reload or a
backlog, a full queue, a busy store, an unexpected failure) is answered 503 with
``Retry-After``, the one failure KoboToolbox retries; 4xx only for what no retry changes.
Advisories go to the outbox in the sidecar's store and are written back by a background
loop, retried until the source takes them or refuses them for good (dead rows, listed at
``GET /v1/outbox`` and put back with ``POST /v1/admin/outbox/retry``). Errors have the
sidecar's shape and codes (`_errors.CODES`).

The events go to the engine thread like any other (`Sidecar.submit`). The records seen and
rejected (`AdapterStore`) and the outbox are tables of the sidecar's database (its SQLite file
or its PostgreSQL database), written from
the thread pool in short transactions of their own: they never touch the event log, so the
engine thread stays the one writer of what an answer promises is stored; SQLite's file lock
serialises them with it, and a wait past the busy timeout is a 503 with nothing kept.

The connections are read from the YAML file named by ``MANDATE_RULES_ADAPTERS``::

    outbox:                         # optional: how write-backs are retried
      first_retry_seconds: 5        # then doubling, up to max_retry_seconds (default 3600)
      poll_seconds: 5               # how often due retries are looked for
    push:                           # optional
      answer_within_seconds: 20     # else 503 + Retry-After (keep below the senders' timeouts)
    connections:
      kobo-escorts:                 # the {connection} in the URL
        adapter: kobotoolbox        # a registered adapter
        tenant: default             # whose events these are (default: the first tenant)
        write_advisories: true      # put advisories back on the records (default true)
        base_url: https://kf.kobotoolbox.org
        asset_uid: aEscReq2026SOM
        token_env: KOBO_API_TOKEN
        push_secret_env: KOBO_PUSH_SECRET
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._adapters.config import load_settings
from .._adapters.contract import Adapter, Batch
from .._adapters.errors import AdapterConfigError, AdapterError, PayloadError
from .._adapters.outbox import STATUSES, Outbox
from .._adapters.registry import load_adapter_class
from .._adapters.syncstate import AdapterStore, storable_text
from .._database import DB_ERRORS, Target
from .._models import Advisory
from ._auth import Principal
from ._config import ServiceConfig
from ._errors import ApiError
from ._http import decode_cursor, encode_cursor, query_choices, query_int, query_text
from ._jobs import ItemResult, Submit
from ._metrics import Metrics

__all__ = ["ADAPTERS_ENV", "AdapterHub", "Connection", "adapter_hub", "load_connections"]

log = logging.getLogger("mandate_rules.adapters.receivers")

#: The YAML file of the sidecar's adapter connections.
ADAPTERS_ENV = "MANDATE_RULES_ADAPTERS"


def _named(record_id: str | None, reason: str) -> dict[str, str | None]:
    # A record id from the source may hold a lone surrogate, which no JSON answer can encode.
    return {"record_id": None if record_id is None else storable_text(record_id),
            "reason": storable_text(reason)}


@attrs.frozen
class Connection:
    """One configured source: its name in the URL, its adapter, and whose events it feeds."""

    name: str
    adapter: Adapter
    tenant: str
    write_back: bool = True


def load_connections(path: Path, env: Mapping[str, str],
                     default_tenant: str) -> dict[str, Connection]:
    """The connections in `path`; `AdapterError` naming the file and connection if wrong."""
    settings = load_settings(path)
    raw = settings.values.get("connections")
    if not isinstance(raw, Mapping) or not raw:
        raise AdapterError(f"{path}: connections: expected a mapping of connection names to "
                           f"adapter settings")
    out: dict[str, Connection] = {}
    for name, values in raw.items():
        if not isinstance(values, Mapping) or not isinstance(values.get("adapter"), str):
            raise AdapterError(f"{path}: connections: {name}: name its `adapter`")
        own = {k: v for k, v in values.items()
               if k not in ("adapter", "tenant", "write_advisories")}
        try:
            adapter = load_adapter_class(values["adapter"]).from_config(
                own, base_dir=settings.base_dir, env=env)
        except AdapterConfigError as exc:
            # The adapter names the key; the file and the connection are known only here.
            raise AdapterConfigError(f"{path}: connections: {name}: {exc}") from exc
        out[str(name)] = Connection(str(name), adapter, str(values.get("tenant")
                                                            or default_tenant),
                                    bool(values.get("write_advisories", True)))
    return out


def _presented(request: Request) -> list[str]:
    """Every secret the request carries, in the forms the three sources can send."""
    found = [request.headers.get("x-api-key", "")]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        found.append(value.strip())
    elif scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            found.append(base64.b64decode(value.strip()).decode("utf-8").partition(":")[2])
    elif scheme.lower() == "apikey":
        found.append(value.strip().rpartition(":")[2])
    return [f for f in found if f]


def _error(code: str, message: str, path: str | None) -> Response:
    """The sidecar's error body, with one of its codes (`_errors.CODES`)."""
    return ApiError(code, message, path).response()


def _busy(code: str, message: str, *, retry_after: float = 5.0) -> Response:
    """503 with ``Retry-After``: the one answer every source retries (Kobo: 502/503/504)."""
    seconds = max(1, math.ceil(retry_after))
    return ApiError(code, message, None, headers={"Retry-After": str(seconds)}).response()


#: The engine thread's answer to a job of submitted events, awaited on the event loop.
SubmitJob = Callable[[Submit], Awaitable[list[ItemResult]]]
#: The caller of an outbox route, from its ``Authorization`` header (raises `ApiError`).
Authenticate = Callable[[str | None], Principal]


@attrs.frozen
class Sidecar:
    """What the receivers use of the sidecar: submitting events to the engine thread,
    whether it is ready, its callers' tokens, its body limit."""

    submit: SubmitJob
    ready: Callable[[], bool]
    authenticate: Authenticate
    max_body_bytes: int


class AdapterHub:
    """The sidecar's adapter side: push routes, the outbox and its delivery loop."""

    def __init__(self, service: Sidecar, connections: Mapping[str, Connection],
                 db: Target | Path, *,
                 retry_interval: float = 5.0, base_delay: float = 5.0,
                 max_delay: float = 3600.0, answer_within: float = 20.0) -> None:
        self.service = service
        self.answer_within = answer_within
        self.connections = dict(connections)
        # The sidecar's own database: the adapters' tables live beside the event log.
        self.db = db if isinstance(db, Target) else Target(path=db)
        self.retry_interval = retry_interval
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._store: AdapterStore | None = None
        self._outbox: Outbox | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def store(self) -> AdapterStore:
        if self._store is None:
            self._store = AdapterStore(self.db)
        return self._store

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.db, base_delay=self.base_delay,
                                  max_delay=self.max_delay)
        return self._outbox

    def routes(self) -> list[Route]:
        return [Route("/v1/adapters/{connection}/push", self.push, methods=["POST"]),
                Route("/v1/outbox", self.list_outbox, methods=["GET"]),
                Route("/v1/admin/outbox/retry", self.retry_outbox, methods=["POST"])]

    def watch(self, metrics: Metrics) -> None:
        """Publish the outbox in the sidecar's Prometheus metrics: rows by source and status
        (a dead row is a write-back the source refused, waiting to be put back by hand)."""
        if not self.connections:
            return

        def read() -> list[tuple[tuple[str, ...], float]]:
            counts = self.outbox.counts()
            for connection in self.connections.values():  # a zero is a value worth plotting
                for status in STATUSES:
                    counts.setdefault((connection.adapter.source, status), 0)
            return [((source, status), float(n)) for (source, status), n in counts.items()]

        metrics.add_gauge("adapter_outbox_rows", "Advisories in the write-back outbox, by "
                          "source and status (pending, done, dead: refused by the source, "
                          "not retried until put back by hand).", ("source", "status"), read)

    def resolve(self, source: str) -> Adapter | None:
        for connection in self.connections.values():
            if connection.adapter.source == source:
                return connection.adapter
        return None

    # ---------------------------------------------------------------- push

    async def push(self, request: Request) -> Response:
        """Take one push. Whatever may succeed later is answered 503 with ``Retry-After``
        (KoboToolbox retries only 502/503/504; CommCare retries any failure; Primero never
        retries, so there the pull is the only backstop): the engine starting or rebuilding,
        a reload or a backlog holding the answer past `answer_within`, a full queue, a busy
        store, an unexpected failure. 4xx is kept for what no retry can change."""
        name = request.path_params["connection"]
        connection = self.connections.get(name)
        if connection is None:
            return _error("unknown-connection", f"no adapter connection {name!r}",
                          "path.connection")
        secret = connection.adapter.push_secret
        if secret is None:
            return _error("push-not-configured", f"connection {name!r} has no push "
                          f"secret (push_secret_env), so no push can be authenticated",
                          "path.connection")
        if not any(hmac.compare_digest(p.encode(), secret.encode())
                   for p in _presented(request)):
            return _error("unauthorized", "the push does not carry the connection's "
                          "shared secret (X-API-Key, Basic or Bearer)", "header.authorization")
        limit = self.service.max_body_bytes
        body = await request.body()
        if len(body) > limit:
            return _error("payload-too-large", f"the body is larger than {limit} bytes",
                          "body")
        try:
            try:
                batch = connection.adapter.parse(body, dict(request.headers))
            except PayloadError as exc:
                return _error("not-a-record", str(exc), "body")
            return await self._take(name, connection, batch)
        except DB_ERRORS as exc:
            log.warning("push to %s: the store is busy or failing: %s", name, exc)
            return _busy("store-unavailable", f"the sidecar's database could not be used "
                         f"({exc}); nothing was kept, send it again")
        except Exception:  # a retry after a fix (or on a rebuilt engine) may pass
            log.exception("push to %s failed", name)
            return _busy("push-failed", "the push could not be taken (see the sidecar's log); "
                         "nothing was kept, send it again", retry_after=30)

    async def _take(self, name: str, connection: Connection, batch: Batch) -> Response:
        new, unchanged = await run_in_threadpool(self.store.fresh, batch.events)
        advisories: list[dict[str, Any]] = []
        if new:
            if not self.service.ready():
                return _busy("not-ready", "the rules engine is starting, or rebuilding its "
                             "state from the stored events; send it again shortly")
            try:
                results = await asyncio.wait_for(
                    self.service.submit(Submit(tenant=connection.tenant, events=tuple(new),
                                            batch=True)), timeout=self.answer_within)
            except TimeoutError:
                # The job is cancelled if it has not started; if it has, its events are
                # stored and the source's retry is a duplicate, answered with the same
                # advisories. Either way nothing is lost or raised twice.
                return _busy("busy", f"the rules engine did not answer within "
                             f"{self.answer_within:g} s (a rule-pack reload, a backlog, or a "
                             f"busy store); send it again")
            except ApiError as exc:
                if exc.status < 500:
                    return exc.response()  # the engine refused the event: a retry would too
                return _busy(exc.code, exc.message,
                             retry_after=float(exc.headers.get("Retry-After") or 5))
            advisories = [a for r in results for a in r.advisories]
        await run_in_threadpool(self._record, connection, new, batch.rejected, advisories)
        return JSONResponse({
            "connection": name,
            "new": [e.id for e in new], "unchanged": unchanged,
            "rejected": [_named(r.record_id, r.reason) for r in batch.rejected],
            "ignored": [_named(i.record_id, i.reason) for i in batch.ignored],
            "advisories": [a["id"] for a in advisories]})

    def _record(self, connection: Connection, new: Any, rejected: Any,
                advisories: list[dict[str, Any]]) -> None:
        # The events are remembered last: should any step fail, the source's retry finds
        # them new again, the engine answers it as a duplicate with the same advisories, and
        # queueing them again is a no-op. Remembered first, a failure would lose the
        # write-backs (the retry would be "unchanged" and raise nothing).
        queued = False
        if connection.write_back:
            for body in advisories:
                queued = self.outbox.enqueue(Advisory.from_json(body)) or queued
        self.store.keep_rejected(connection.adapter.name, rejected)
        self.store.remember(new)
        if queued and self._wake is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # ---------------------------------------------------------------- the outbox, by hand

    def _caller(self, request: Request, role: str) -> Principal:
        """The sidecar's caller, as for its own routes (bearer token, tenant, role)."""
        principal = self.service.authenticate(request.headers.get("authorization"))
        principal.require(role)
        return principal

    def _sources(self, tenant: str) -> list[str]:
        return sorted({c.adapter.source for c in self.connections.values()
                       if c.tenant == tenant})

    async def list_outbox(self, request: Request) -> Response:
        """``GET /v1/outbox``: the caller's tenant's write-backs, oldest first; ``status``
        (pending, done, dead; comma-separated), ``limit``, ``cursor``."""
        principal = self._caller(request, "read")
        statuses = query_choices(request, "status", STATUSES)
        limit = query_int(request, "limit", 100, 1, 1000)
        after = decode_cursor(request)
        sources = self._sources(principal.tenant)
        rows = await run_in_threadpool(self.outbox.rows, statuses=statuses, sources=sources,
                                       after=after, limit=limit) if sources else []
        return JSONResponse({"items": [row.to_json() for row in rows],
                             "next_cursor": encode_cursor(rows[-1].seq)
                             if len(rows) == limit else None})

    async def retry_outbox(self, request: Request) -> Response:
        """``POST /v1/admin/outbox/retry``: put the tenant's dead write-backs (or the one
        ``advisory_id`` names) back in the queue, due now."""
        principal = self._caller(request, "admin")
        advisory_id = query_text(request, "advisory_id")
        sources = self._sources(principal.tenant)
        retried = await run_in_threadpool(self.outbox.retry, advisory_id=advisory_id,
                                          sources=sources) if sources else []
        if advisory_id is not None and not retried:
            return _error("outbox-row-not-found", f"no dead write-back of advisory "
                          f"{advisory_id!r} for this tenant (see GET /v1/outbox?status=dead)",
                          "query.advisory_id")
        if retried and self._wake is not None:
            self._wake.set()
        return JSONResponse({"retried": retried})

    # ---------------------------------------------------------------- write-back loop

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        if not self.connections:
            return  # nothing to write back to
        # Opened now, off the event loop: opening creates the tables, which waits for the
        # store's write lock, and a push must never hold up the loop on it.
        await run_in_threadpool(lambda: (self.store, self.outbox))
        await run_in_threadpool(self._follow_sources)
        self._task = self._loop.create_task(self._deliver_forever())

    def _follow_sources(self) -> None:
        """A connection whose address changed (its source differs from the one its state was
        kept under only in host and port) takes that state along, as `sync` does on each
        run: without it, the first push of each record would be judged as a new event, its
        advisories raised a second time, and the outbox rows left under the old source."""
        for name, connection in sorted(self.connections.items()):
            adapter = connection.adapter
            moved = self.store.follow_source(adapter.name, adapter.source)
            if moved.before:
                log.warning("connection %s: state moved from %s (only the address differs) "
                            "to %s", name, moved.before, adapter.source)
            elif moved.ambiguous:
                log.warning("connection %s: state kept under several earlier addresses (%s) "
                            "was not moved to %s; set the connection's `source` to name it",
                            name, ", ".join(moved.ambiguous), adapter.source)

    async def stop(self) -> None:
        """Let the write-back pass under way finish its current row (so no row stays leased,
        and none is half-recorded), then close the connections."""
        self._stopping = True
        if self._task is not None and self._wake is not None:
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=60)
            except TimeoutError:
                log.warning("the write-back pass did not finish in 60 s; its row is retried "
                            "when its lease ends")
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        for connection in self.connections.values():
            connection.adapter.close()
        for closable in (self._store, self._outbox):
            if closable is not None:
                closable.close()

    async def _deliver_forever(self) -> None:
        assert self._wake is not None
        outbox = self.outbox
        while not self._stopping:
            try:
                await run_in_threadpool(outbox.deliver_due, self.resolve,
                                        keep_going=lambda: not self._stopping)
            except Exception:  # the loop must outlive any one failure
                log.exception("write-back pass failed")
            if self._stopping:
                return
            due = outbox.next_due()
            wait = self.retry_interval if due is None else max(
                0.0, min(self.retry_interval, due - outbox.clock()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)


def adapter_hub(service: Sidecar, config: ServiceConfig, metrics: Metrics,
                env: Mapping[str, str] | None = None) -> AdapterHub:
    """The hub for a sidecar `service`: connections from ``MANDATE_RULES_ADAPTERS`` (none when
    it is not set), tables in the sidecar's own database."""
    env = os.environ if env is None else env
    path = env.get(ADAPTERS_ENV)
    if not path:
        return AdapterHub(service, {}, config.db)
    settings = load_settings(Path(path))
    outbox, push = settings.section("outbox"), settings.section("push")
    hub = AdapterHub(service, load_connections(Path(path), env, config.tenants[0]),
                     config.db,
                     retry_interval=outbox.number("poll_seconds", 5.0),
                     base_delay=outbox.number("first_retry_seconds", 5.0),
                     max_delay=outbox.number("max_retry_seconds", 3600.0),
                     answer_within=push.number("answer_within_seconds", 20.0))
    if hub.answer_within <= 0:
        raise AdapterError(f"{path}: push: answer_within_seconds: expected a number of "
                           f"seconds above 0, got {hub.answer_within:g}")
    hub.watch(metrics)
    return hub
