"""The routes of the sidecar, over the same library API that embedders call.

Handlers only read requests, check the caller's role and hand work over: engine calls and
writes go to the engine thread (`_worker`), reads go to the store from a thread pool, so
the event loop never blocks on SQLite or on durable_rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from .._content import name_problem, shown, text_problem
from .._database import DB_ERRORS
from .._errors import RulePackError
from ._auth import Authenticator, Principal
from ._bundles import Bundles, load_bundles
from ._config import ServiceConfig
from ._console import console_routes
from ._errors import ApiError, internal_error
from ._http import (
    CLOUDEVENT,
    CLOUDEVENT_BATCH,
    JSON,
    decode_cursor,
    encode_cursor,
    parse_json,
    query_choices,
    query_int,
    query_text,
    query_time,
    read_body,
    require_media_type,
    utc_now,
)
from ._intake import check_depth, read_batch, read_event
from ._jobs import Claim, Install, ItemResult, Preview, Resolve, Submit, Tick
from ._metrics import CONTENT_TYPE, Metrics
from ._openapi import openapi_document
from ._receivers import Sidecar, adapter_hub
from ._replicas import Replica
from ._rows import AdvisoryFilter
from ._store import Store
from ._views import find_rule, readable, rule_detail, rule_summary
from ._worker import Worker

log = logging.getLogger("mandate_rules.service")

SEVERITIES = ("info", "advice", "warning", "critical")
DECISIONS = ("acknowledged", "justified", "dismissed")
STATUSES = ("open", *DECISIONS)


class Service:
    """The running sidecar: settings, store, engine thread, metrics and tokens."""

    def __init__(self, config: ServiceConfig, bundles: Bundles) -> None:
        self.config = config
        self.bundles = bundles
        self.metrics = Metrics()
        self.auth = Authenticator(config)
        self.replica: Replica | None = None
        if config.db.dialect == "postgresql":
            # A writer paused inside a transaction past its lease is ended by the server, so
            # that it cannot hold up the replica taking its operations over (_leases.py).
            self.store = Store(config.db, writer_options={
                "idle_in_transaction_session_timeout": f"{int(config.lease_seconds * 1000)}"})
            self.replica = Replica(config.db, config.replica_url, config.lease_seconds,
                                   config.max_body_bytes)
        else:
            self.store = Store(config.db)
        self.worker = Worker(self.store, self.metrics, config.tenants,
                             queue_limit=config.queue_limit,
                             snapshot_every=config.snapshot_every,
                             leases=self.replica.leases if self.replica else None,
                             retain_days=config.retain_days)
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._openapi = openapi_document()
        self.metrics.add_gauge("rules_info", "The rule packs in force (1), live and candidate.",
                               ("role", "version", "hash"), self._rules_info)
        self.metrics.add_gauge("ready", "1 when the engines are built and the store writable.",
                               (), lambda: [((), 1.0 if self.worker.healthy else 0.0)])
        self.metrics.add_gauge("queue_depth", "Jobs waiting for the engine thread.", (),
                               lambda: [((), float(self.worker.queue_depth()))])
        self.metrics.add_gauge("engine_state", "What stateful rules hold, summed over tenants "
                               "and operations.", ("kind",),
                               lambda: [((k,), float(v))
                                        for k, v in self.worker.state_sizes().items()])

    def _rules_info(self) -> list[tuple[tuple[str, ...], float]]:
        live = self.bundles.live.version
        out: list[tuple[tuple[str, ...], float]] = [(("live", live.version, live.hash), 1.0)]
        if self.bundles.shadow is not None:
            version = self.bundles.shadow.version
            out.append((("shadow", version.version, version.hash), 1.0))
        return out

    # ---------------------------------------------------------------- plumbing

    async def run(self, job: Any) -> Any:
        """Run `job`: on this engine thread, or, for events of operations another replica
        judges, on that replica's (`_replicas.py`)."""
        if self.replica is not None and isinstance(job, (Submit, Preview)):
            return await self.replica.route(job, self.run_here)
        return await self.run_here(job)

    def _claim(self, operations: list[tuple[str, str]]) -> None:
        with contextlib.suppress(ApiError):  # a full queue: the next round asks again
            self.worker.submit(Claim(operations=tuple(operations)))

    async def run_here(self, job: Any) -> Any:
        future: Future[Any] = self.worker.submit(job)
        return await asyncio.wrap_future(future)

    def route(self, path: str, handler: Callable[[Request, Principal], Awaitable[Response]],
              methods: list[str], roles: tuple[str, ...] | None) -> Route:
        """A route whose handler gets the caller, and whose errors are JSON with a code.

        `roles` None: no token needed; (): any valid token; else one of these roles.
        """
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                principal = self.auth.authenticate(request.headers.get("authorization")) \
                    if roles is not None else Principal("", frozenset())
                if roles:
                    principal.require(*roles)
                response = await handler(request, principal)
            except ApiError as exc:
                response = self.error(exc)
            except ClientDisconnect:
                # The client went, or its body came later than body_timeout (the protocol
                # has answered 408): nobody reads an answer.
                log.info("%s %s: the client went before its body was read", request.method,
                         path)
                return Response(status_code=400)
            except DB_ERRORS as exc:
                log.error("reading the store failed on %s %s: %s", request.method, path, exc)
                response = self.error(ApiError("store-unavailable", f"the database could not "
                                               f"be read ({exc})", None,
                                               headers={"Retry-After": "5"}))
            except Exception as exc:
                response = self.error(internal_error(
                    log, f"unexpected error on {request.method} {path}", exc))
            self.metrics.requests.inc(request.method, path, str(response.status_code))
            self.metrics.latency.observe(time.perf_counter() - started, request.method, path)
            return response

        return Route(path, endpoint, methods=methods)

    def adopt(self, route: Route) -> Route:
        """A route served by another part of the package (the adapters' push receivers),
        given this app's metrics and its JSON answer to an unexpected error. Such a route
        authenticates its callers itself."""
        endpoint = route.endpoint

        async def handler(request: Request, principal: Principal) -> Response:
            response: Response = await endpoint(request)
            return response

        return self.route(route.path, handler, sorted((route.methods or set()) - {"HEAD"}),
                          None)

    def error(self, exc: ApiError) -> Response:
        self.metrics.errors.inc(exc.code)
        return exc.response()

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return self.error(ApiError("method-not-allowed", f"{request.method} is not allowed "
                                       f"on {request.url.path}", "method",
                                       headers=exc.headers or {}))
        if exc.status_code == 404:
            return self.error(ApiError("not-found", f"no route {request.url.path}", "path"))
        return self.error(ApiError("internal", str(exc.detail)))

    # ---------------------------------------------------------------- events

    async def post_events(self, request: Request, principal: Principal) -> Response:
        kind = require_media_type(request, (JSON, CLOUDEVENT, CLOUDEVENT_BATCH))
        doc = await self._json(request)
        batch = kind == CLOUDEVENT_BATCH or isinstance(doc, list)
        if kind == CLOUDEVENT_BATCH and not isinstance(doc, list):
            raise ApiError("invalid-batch", "application/cloudevents-batch+json carries a JSON "
                           "array of events", "body", items=[])
        if kind == CLOUDEVENT and isinstance(doc, list):
            raise ApiError("invalid-event", "application/cloudevents+json carries one event; "
                           "send a batch as application/cloudevents-batch+json", "body",
                           problems=[{"path": "", "message": "expected a JSON object"}])
        events = read_batch(doc, self.config.max_batch) if batch else (read_event(doc),)
        results: list[ItemResult] = await self.run(
            Submit(tenant=principal.tenant, events=events, batch=batch))
        # The same bytes JSONResponse would send, spliced from the advisories' stored text.
        if batch:
            text = '{"results":[' + ",".join(r.json_text() for r in results) + "]}"
        else:
            text = results[0].json_text()
        return Response(text, media_type=JSON)

    async def _json(self, request: Request) -> Any:
        return check_depth(parse_json(await read_body(request, self.config.max_body_bytes)))

    async def post_evaluate(self, request: Request, principal: Principal) -> Response:
        require_media_type(request, (JSON, CLOUDEVENT))
        doc = await self._json(request)
        if isinstance(doc, list):
            raise ApiError("invalid-event", "a dry run takes one event, not a batch", "body",
                           problems=[{"path": "", "message": "expected a JSON object"}])
        result: ItemResult = await self.run(Preview(tenant=principal.tenant,
                                                    event=read_event(doc)))
        return JSONResponse({**result.to_json(), "dry_run": True})

    # ---------------------------------------------------------------- advisories

    async def list_advisories(self, request: Request, principal: Principal) -> Response:
        where = AdvisoryFilter(
            subject=query_text(request, "subject"), source=query_text(request, "source"),
            country=query_text(request, "country"),
            rules=tuple(r.strip() for r in (query_text(request, "rule") or "").split(",")
                        if r.strip()),
            severities=query_choices(request, "severity", SEVERITIES),
            statuses=query_choices(request, "status", STATUSES),
            since=query_time(request, "since"), until=query_time(request, "until"))
        limit = query_int(request, "limit", 100, 1, 1000)
        after = decode_cursor(request)
        items, last = await run_in_threadpool(self.store.list_advisories, principal.tenant,
                                              where, after, limit)
        return JSONResponse({"items": items, "next_cursor": encode_cursor(last)})

    async def get_advisory(self, request: Request, principal: Principal) -> Response:
        advisory_id = request.path_params["advisory_id"]
        found = await run_in_threadpool(self.store.get_advisory, principal.tenant, advisory_id)
        if found is None:
            raise ApiError("advisory-not-found", f"no advisory {advisory_id!r}",
                           "path.advisory_id")
        return JSONResponse({**found, "readable": readable(found)})

    async def post_resolution(self, request: Request, principal: Principal) -> Response:
        require_media_type(request, (JSON,))
        doc = await self._json(request)
        record = await self.resolve(principal.tenant, request.path_params["advisory_id"], doc)
        return JSONResponse(record, status_code=201)

    async def resolve(self, tenant: str, advisory_id: str, doc: Any) -> dict[str, Any]:
        """Check a resolution (`{"decision", "text", "by"}`) and record it on the engine
        thread: the API's route and the console's form both take effect through here."""
        if not isinstance(doc, dict):
            raise ApiError("invalid-resolution", "expected a JSON object with decision, text "
                           "and by", "body")
        decision, text, by = doc.get("decision"), doc.get("text"), doc.get("by")
        if decision not in DECISIONS:
            raise ApiError("invalid-resolution", f"decision must be one of "
                           f"{', '.join(DECISIONS)}, got {decision!r}", "decision")
        if text is not None and (not isinstance(text, str) or len(text) > 10_000):
            raise ApiError("invalid-resolution", "text must be a text of at most 10000 "
                           "characters", "text")
        if decision == "justified" and not (isinstance(text, str) and text.strip()):
            raise ApiError("invalid-resolution", "a justified decision needs its justification "
                           "in text", "text")
        if not isinstance(by, str) or not by.strip() or len(by) > 200:
            raise ApiError("invalid-resolution", "by must name who decided (a text of 1 to 200 "
                           "characters)", "by")
        for name, problem in (("text", text_problem(text) if text is not None else None),
                              ("by", name_problem(by))):
            if problem is not None:
                raise ApiError("invalid-resolution", f"{name} {problem}", name)
        unknown = sorted(shown(str(key)) for key in set(doc) - {"decision", "text", "by"})
        if unknown:
            raise ApiError("invalid-resolution", f"unknown field(s): {', '.join(unknown)}",
                           unknown[0])
        record: dict[str, Any] = await self.run(Resolve(tenant=tenant, advisory_id=advisory_id,
                                                        decision=decision, text=text, by=by))
        return record

    # ---------------------------------------------------------------- rules

    async def list_rules(self, request: Request, principal: Principal) -> Response:
        bundle = self.bundles.live
        return JSONResponse({"rules_version": bundle.version.to_json(),
                             "rules": [rule_summary(r) for r in bundle.rules]})

    async def get_rule(self, request: Request, principal: Principal) -> Response:
        bundle = self.bundles.live
        rule = find_rule(bundle, request.path_params["rule_id"])
        return JSONResponse({**rule_detail(rule), "rules_version": bundle.version.to_json()})

    # ---------------------------------------------------------------- decision log

    async def list_decisions(self, request: Request, principal: Principal) -> Response:
        since, until = query_time(request, "since"), query_time(request, "until")
        limit = query_int(request, "limit", 100, 1, 1000)
        after = decode_cursor(request)
        items, last = await run_in_threadpool(self.store.list_decisions, principal.tenant,
                                              after, limit, since, until)
        return JSONResponse({"items": items, "next_cursor": encode_cursor(last)})

    async def export_decisions(self, request: Request, principal: Principal) -> Response:
        since, until = query_time(request, "since"), query_time(request, "until")
        rows = self.store.iter_decisions(principal.tenant, since, until)

        def lines() -> Iterator[bytes]:
            for row in rows:
                yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    # ---------------------------------------------------------------- shadow

    async def shadow_diff(self, request: Request, principal: Principal) -> Response:
        shadow = self.bundles.shadow
        if shadow is None:
            raise ApiError("shadow-not-configured", "no candidate rule packs are running; start "
                           "the server with --shadow DIR", "path")
        limit = query_int(request, "limit", 100, 1, 1000)
        after = decode_cursor(request)
        diff = await run_in_threadpool(self.store.shadow_diff, principal.tenant,
                                       shadow.version.hash, after, limit)
        diff["next_cursor"] = encode_cursor(diff["next_cursor"])
        return JSONResponse({"live": self.bundles.live.version.to_json(),
                             "candidate": shadow.version.to_json(), **diff})

    # ---------------------------------------------------------------- admin

    async def post_reload(self, request: Request, principal: Principal) -> Response:
        return JSONResponse(await self.reload())

    async def reload(self, *, announce: bool = True) -> dict[str, Any]:
        """Validate the configured rule packs again; if sound, swap them in atomically (and
        have the other replicas reload theirs, unless this reload is their announcement)."""
        async with self._reload_lock:
            try:
                bundles = await run_in_threadpool(load_bundles, self.config)
            except RulePackError as exc:
                self.metrics.reloads.inc("invalid")
                raise ApiError("rule-pack-invalid", f"{len(exc.problems)} problem(s) in the new "
                               f"rule packs; the running version "
                               f"{self.bundles.live.version} stays", "rules",
                               problems=[p.to_json() for p in exc.problems]) from exc
            try:
                result: dict[str, Any] = await self.run(Install(live=bundles.live,
                                                                shadow=bundles.shadow))
            except ApiError:
                self.metrics.reloads.inc("failed")
                raise
            self.bundles = bundles
            self.metrics.reloads.inc("changed" if result["changed"] else "unchanged")
            log.info("rule packs reloaded: %s (changed: %s)", bundles.live.version,
                     result["changed"])
            if announce and self.replica is not None:
                await run_in_threadpool(self.replica.announce_reload)
            return result

    def _on_sighup(self, announce: bool = True) -> None:
        async def reload() -> None:
            try:
                await self.reload(announce=announce)
            except ApiError as exc:
                log.error("SIGHUP reload refused: %s %s", exc.message,
                          exc.details.get("problems", ""))

        task = asyncio.get_running_loop().create_task(reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- health and metrics

    async def healthz(self, request: Request, principal: Principal) -> Response:
        if self.worker.fatal is not None:
            raise ApiError("not-ready", f"the engine thread failed: {self.worker.fatal}")
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request, principal: Principal) -> Response:
        if not self.worker.healthy:
            raise ApiError("not-ready", self.worker.fatal or "the engines are being built "
                           "from the stored events, or the store cannot be written")
        await run_in_threadpool(self.store.ping)
        return JSONResponse({"status": "ready",
                             "rules_version": self.bundles.live.version.to_json(),
                             "shadow_version": (self.bundles.shadow.version.to_json()
                                                if self.bundles.shadow else None)})

    async def get_metrics(self, request: Request, principal: Principal) -> Response:
        text = await run_in_threadpool(self.metrics.render)
        return Response(text, media_type=CONTENT_TYPE)

    async def get_openapi(self, request: Request, principal: Principal) -> Response:
        return JSONResponse(self._openapi)

    # ---------------------------------------------------------------- the clock

    async def ticker(self) -> None:
        interval = self.config.tick_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.run(Tick(now=utc_now()))
            except ApiError as exc:
                log.warning("clock tick skipped: %s", exc.message)

    # ---------------------------------------------------------------- the app

    def app(self) -> Starlette:
        r = self.route
        any_role: tuple[str, ...] = ()
        routes: list[BaseRoute] = [
            r("/healthz", self.healthz, ["GET"], None),
            r("/readyz", self.readyz, ["GET"], None),
            # Operators' roles (a token without a tenant): the counters are every tenant's,
            # and the rule packs are those all tenants run.
            r("/metrics", self.get_metrics, ["GET"], ("metrics",)),
            r("/v1/openapi.json", self.get_openapi, ["GET"], None),
            r("/v1/events", self.post_events, ["POST"], ("submit",)),
            r("/v1/evaluate", self.post_evaluate, ["POST"], ("submit", "read")),
            r("/v1/advisories", self.list_advisories, ["GET"], ("read",)),
            r("/v1/advisories/{advisory_id}", self.get_advisory, ["GET"], ("read",)),
            r("/v1/advisories/{advisory_id}/resolution", self.post_resolution, ["POST"],
              ("submit",)),
            r("/v1/rules", self.list_rules, ["GET"], any_role),
            r("/v1/rules/{rule_id}", self.get_rule, ["GET"], any_role),
            r("/v1/decisions", self.list_decisions, ["GET"], ("read",)),
            r("/v1/decisions/export", self.export_decisions, ["GET"], ("read",)),
            r("/v1/shadow/diff", self.shadow_diff, ["GET"], ("read",)),
            r("/v1/admin/reload", self.post_reload, ["POST"], ("reload",)),
        ]
        # Adapters (issue 5): push receivers and the write-back outbox loop, all in
        # _receivers; connections from MANDATE_RULES_ADAPTERS.
        adapters = adapter_hub(Sidecar(submit=self.run, ready=lambda: self.worker.healthy,
                                       authenticate=self.auth.authenticate,
                                       max_body_bytes=self.config.max_body_bytes),
                               self.config, self.metrics)
        routes += [self.adopt(route) for route in adapters.routes()]
        routes += console_routes(self)  # the console for people, /ui/ (issue 14)
        if self.replica is not None:  # jobs forwarded by the other replicas
            routes += [self.adopt(route)
                       for route in self.replica.routes(self.run_here, self.error)]

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            started = self.worker.start(self.bundles.live, self.bundles.shadow)
            started.add_done_callback(_log_startup)
            await adapters.start()  # adapters (issue 5)
            loop = asyncio.get_running_loop()
            if self.replica is not None:  # a peer's reload: reload here, announce nothing
                self.replica.start(self.worker.lost, functools.partial(
                    loop.call_soon_threadsafe, self._on_sighup, False), self._claim)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            if self.config.tick_interval > 0:
                task = loop.create_task(self.ticker())
                self._tasks.add(task)
            try:
                yield
            finally:
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signal.SIGHUP)
                for task in list(self._tasks):
                    task.cancel()
                await adapters.stop()  # adapters (issue 5)
                await run_in_threadpool(self.worker.stop)
                if self.replica is not None:
                    await run_in_threadpool(self.replica.stop)
                self.store.close()

        app = Starlette(routes=routes, lifespan=lifespan,
                        exception_handlers={HTTPException: self.http_exception})
        app.state.count_error = self.metrics.errors.inc  # for serve's connection guard
        return app


def _log_startup(future: Future[Any]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.critical("startup failed: %s", error)
    else:
        log.info("engines ready: %s", future.result())


def create_app(config: ServiceConfig, bundles: Bundles | None = None) -> Starlette:
    """The ASGI app for `config` (rule packs loaded now unless given)."""
    return Service(config, bundles or load_bundles(config)).app()
