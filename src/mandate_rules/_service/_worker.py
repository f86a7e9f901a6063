"""The engine thread: the only caller of the engines and the only writer of the store.

Requests become jobs on a bounded queue; one thread takes them in arrival order, a group
at a time. It looks up which of the group's events are re-deliveries, evaluates each new
event (live engine, then the candidate's), then writes the group's events, advisories and
decision-log rows together (a few statements per group, not per event) and commits once
(group commit: one fsync for many events); only then are the requests answered. So:

* the engines are never entered by two threads (durable_rules' C core is not re-entrant);
* an answered event is on disk, with its advisories, exactly once;
* an engine's state never holds an event the store does not: when a write fails, or a
  batch is refused half-way, the tenant's engines go back to their baseline (their state
  as of a recent committed event, kept in memory) and replay only the events stored
  after it, never the whole log.

Each tenant has its own engines (live, and the candidate in shadow mode), so no tenant's
events can reach another's windows or deadlines.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from .._rules import Bundle
from ._errors import ApiError, StoreFailure, internal_error
from ._evaluator import Evaluator, Pending, store_error
from ._jobs import Claim, Install, Job, Preview, Resolve, Stop, Submit, Tick
from ._leases import Leases
from ._metrics import Metrics
from ._retention import Retention
from ._rows import StoredEvent
from ._store import Store
from ._tenants import Tenant

log = logging.getLogger("mandate_rules.service")

MAX_GROUP = 128

_Done = tuple[Future[Any], Any, Callable[[], None] | None]


class Worker(Evaluator):
    """Owns the tenants' engines and the store's write connection, on one thread."""

    def __init__(self, store: Store, metrics: Metrics, tenants: Sequence[str], *,
                 queue_limit: int, snapshot_every: int = 50_000,
                 leases: Leases | None = None, retain_days: int = 0) -> None:
        self._init_ownership(leases)
        self._store = store
        self._snapshot_every = snapshot_every
        # Events evaluated per tenant since its last snapshot was written.
        self._unsnapshotted: dict[str, int] = {}
        self._metrics = metrics
        self._configured = tuple(tenants)
        self._queue: queue.Queue[Job] = queue.Queue(maxsize=queue_limit)
        self._tenants: dict[str, Tenant] = {}
        self._dirty: set[str] = set()  # tenants whose engines could not be rebuilt
        self._pending: dict[str, Pending] = {}
        # The stored events among those the group's jobs submit, per tenant, looked up once
        # for the group; None: look them up job by job.
        self._known: dict[str, dict[tuple[str, str], StoredEvent]] | None = None
        self._thread = threading.Thread(target=self._run, name="mandate-rules-engine",
                                        daemon=True)
        self._accepting = True
        self._retention = Retention(retain_days, pause=lambda: not self._queue.empty()) \
            if retain_days else None
        self.live_bundle: Bundle | None = None
        self.shadow_bundle: Bundle | None = None
        self.ready = False
        self.fatal: str | None = None

    # ---------------------------------------------------------------- the outside

    def start(self, live: Bundle, shadow: Bundle | None) -> Future[Any]:
        """Start the thread; its first job rebuilds every tenant's engines from the log."""
        job = Install(live=live, shadow=shadow, startup=True)
        self._queue.put(job)
        self._thread.start()
        return job.future

    def submit(self, job: Job) -> Future[Any]:
        if not self._accepting or self.fatal is not None:
            raise ApiError("not-ready", "the server is stopping or has failed", None)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise ApiError("overloaded", "too many requests are waiting for the engine; "
                           "retry shortly", None, headers={"Retry-After": "1"}) from None
        return job.future

    def stop(self, timeout: float = 30.0) -> None:
        """Finish and commit every job already queued, then end the thread."""
        self._accepting = False
        if self._thread.is_alive():
            self._queue.put(Stop())
            self._thread.join(timeout)

    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def healthy(self) -> bool:
        return self.ready and self.fatal is None and not self._dirty

    def state_sizes(self) -> dict[str, int]:
        """What the live engines hold, summed over tenants (each read under its engine's lock)."""
        total: dict[str, int] = {}
        for tenant in list(self._tenants.values()):
            for key, value in tenant.live.state_size().items():
                total[key] = total.get(key, 0) + value
        return total

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        try:
            while True:
                group = [self._queue.get()]
                while len(group) < MAX_GROUP:
                    try:
                        group.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = next((j for j in group if isinstance(j, Stop)), None)
                jobs = [j for j in group if not isinstance(j, Stop)]
                try:
                    self._drop_lost()
                    self._process(jobs)
                    if stop is not None:  # stopping: every tenant's state as it is now
                        self._snapshots(at_least=1)
                        self._release()
                    elif self._snapshot_every:
                        self._snapshots(at_least=self._snapshot_every)
                    if stop is None:
                        self._retain()
                    self._baselines()
                except Exception as exc:  # one group's failure, not the thread's
                    self._group_failed(jobs, exc)
                if stop is not None:
                    stop.future.set_result(None)
                    self._drain("the server is stopping")
                    return
        except BaseException as exc:  # a bug: never leave callers waiting for ever
            log.critical("the engine thread failed: %r", exc, exc_info=True)
            self.fatal = repr(exc)
            self._drain("the engine thread failed")
            raise
        finally:
            self._store.rollback()

    def _group_failed(self, jobs: list[Job], exc: Exception) -> None:
        """What escaped a group's own handling: its unanswered jobs fail, nothing of it is
        kept (store or engines), and the thread goes on with the next group."""
        error = internal_error(log, "the engine thread failed on a group of requests", exc)
        self._discard_group()
        unanswered = [job for job in jobs if not job.future.done()]
        for job in unanswered:
            job.future.set_exception(error)
        # An unanswered job's events may be in its tenant's engines but not in the store.
        for name in sorted({job.tenant for job in unanswered if isinstance(job, Submit)}):
            self._rebuild(name)

    def _discard_group(self) -> None:
        """Forget the group's unwritten evaluations and roll back what it wrote."""
        self._pending.clear()
        self._known = None
        self._group_ops.clear()
        try:
            self._store.rollback()
        except Exception:  # the rebuild that follows reads what is committed
            log.exception("rollback failed")

    def _drain(self, why: str) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(ApiError("not-ready", why, None))

    def _process(self, group: list[Job]) -> None:
        done: list[_Done] = []
        touched: set[str] = set()
        self._known = self._lookup(group)
        for job in group:
            if not job.future.set_running_or_notify_cancel():
                continue  # the caller went away before the job started: nothing was done
            try:
                if isinstance(job, Install):
                    self._commit(done, touched)
                    job.future.set_result(self._install(job))
                elif isinstance(job, Preview):
                    self._flush()
                    job.future.set_result(self._preview(job))
                elif isinstance(job, Submit):
                    touched.add(job.tenant)
                    result, after = self._submit(job)
                    done.append((job.future, result, after))
                elif isinstance(job, Resolve):
                    self._flush()
                    done.append((job.future, self._resolve(job), None))
                elif isinstance(job, Claim):
                    self._commit(done, touched)
                    job.future.set_result(self._take(job.operations))
                elif isinstance(job, Tick):
                    touched.update(self._tenants)
                    self._flush()
                    count, after = self._tick(job.now)
                    done.append((job.future, count, after))
            except ApiError as exc:
                job.future.set_exception(exc)
            except StoreFailure as exc:
                job.future.set_exception(self._store_failed(done, touched, exc.error))
            except Exception as exc:  # this job fails; the others go on
                job.future.set_exception(internal_error(
                    log, "unexpected error in the engine thread", exc))
        self._commit(done, touched)
        self._known = None

    def _lookup(self, group: list[Job]) -> dict[str, dict[tuple[str, str], StoredEvent]] | None:
        """Which of the events the group submits are stored already: one query per tenant."""
        keys: dict[str, list[tuple[str, str]]] = {}
        for job in group:
            if isinstance(job, Submit):
                keys.setdefault(job.tenant, []).extend(event.key for event in job.events)
        try:
            return {name: self._store.find_events(name, wanted)
                    for name, wanted in keys.items()}
        except Exception:  # each job asks again, and fails on its own
            return None

    def _commit(self, done: list[_Done], touched: set[str]) -> None:
        started = time.perf_counter()
        try:
            self._flush()
            self._fence_group()
            self._store.commit()
        except StoreFailure as exc:
            self._store_failed(done, touched, exc.error)
            return
        except Exception as exc:  # the group fails, the thread goes on
            self._store_failed(done, touched, store_error(exc))
            return
        self._metrics.commit.observe(time.perf_counter() - started)
        for future, result, after in done:
            if after is not None:
                after()
            future.set_result(result)
        done.clear()
        touched.clear()

    def _store_failed(self, done: list[_Done], touched: set[str],
                      error: ApiError) -> ApiError:
        """Roll the group back, fail its jobs with `error`, and rebuild the engines it
        touched."""
        error = self._lapsed(error)
        log.error("writing to the store failed; the group is rolled back: %s", error.message)
        self._discard_group()
        for future, _, _ in done:
            future.set_exception(error)
        for name in sorted(touched):
            self._rebuild(name)
        done.clear()
        touched.clear()
        return error
