"""A replica's part in the engine thread: it judges only the operations it holds a lease on
(`_service/_leases.py`), takes one over from the store when it gets its lease, lets go of
those another replica took, and checks its leases inside every transaction before it
commits (fencing).

With one server on a SQLite file there are no leases (`_leases` is None): every operation
is this process's, and none of this runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable

from .._database import DB_ERRORS
from ._errors import ApiError, StoreFailure
from ._leases import Leases, Operation
from ._tenants import Tenant, TenantEngines

log = logging.getLogger("mandate_rules.service")


def not_owner(tenant: str, countries: Iterable[str], why: str) -> ApiError:
    names = ", ".join(sorted(set(countries)))
    return ApiError("not-owner", f"operation {names} of tenant {tenant!r}: {why}; nothing "
                    "was stored", "country", headers={"Retry-After": "1"})


class Ownership(TenantEngines):
    """The engine thread's leases: what it may judge, and the check before each commit."""

    _leases: Leases | None
    _group_ops: set[Operation]  # the operations the group being written touches
    _lost: set[Operation]  # found lost by the renewer, not yet let go
    _lost_lock: threading.Lock

    def _init_ownership(self, leases: Leases | None) -> None:
        self._leases = leases
        self._group_ops = set()
        self._lost = set()
        self._lost_lock = threading.Lock()

    def _owned(self, name: str) -> Collection[str] | None:
        return None if self._leases is None else self._leases.owned(name)

    def lost(self, operations: Collection[Operation]) -> None:
        """Called by the renewer: these leases were taken by another replica."""
        with self._lost_lock:
            self._lost.update(operations)

    def _drop_lost(self) -> None:
        """Let go of the operations the renewer found lost (between groups)."""
        with self._lost_lock:
            lost, self._lost = self._lost, set()
        for name, country in sorted(lost):
            tenant = self._tenants.get(name)
            if tenant is not None:
                log.warning("lost operation %s/%s to another replica", name, country)
                self._let_go(tenant, country)

    def _claim(self, tenant: Tenant, countries: Iterable[str]) -> None:
        """Hold each of these operations of `tenant`, taking over (and rebuilding from the
        store) any this replica did not hold; `not-owner` if another replica holds one."""
        if self._leases is None:
            return
        for country in sorted(set(countries)):
            operation = (tenant.name, country)
            if not self._leases.valid(operation):
                try:
                    held, continuous = self._leases.acquire(operation)
                except DB_ERRORS as exc:
                    raise ApiError("store-unavailable", f"the lease of operation {country} "
                                   f"could not be taken ({exc}); nothing was stored", None,
                                   headers={"Retry-After": "5"}) from exc
                if not held:
                    raise not_owner(tenant.name, [country], "another replica judges it")
                if not continuous:
                    self._adopt(tenant, country)
            self._group_ops.add(operation)

    def _fence(self, operations: Collection[Operation]) -> None:
        """In the open transaction, before it commits: refuse it (`StoreFailure`) unless
        this replica still holds every operation it writes; those it lost are let go."""
        if self._leases is None or not operations:
            return
        try:
            lost = self._leases.fence(self._store.connection, operations)
        except DB_ERRORS as exc:
            raise StoreFailure(ApiError(
                "store-unavailable", f"the leases could not be checked ({exc}); nothing was "
                "stored", None, headers={"Retry-After": "5"})) from exc
        if not lost:
            return
        log.warning("a write for operations %s was refused: this replica's lease was taken "
                    "by another (fenced)", ", ".join(f"{t}/{c}" for t, c in sorted(lost)))
        raise StoreFailure(self._give_up(lost, "this replica's lease ran out and another "
                                               "took it"))

    def _give_up(self, operations: list[Operation], why: str) -> ApiError:
        """Forget these operations' leases and state; the `not-owner` their jobs are given
        (naming those of the first tenant), on which the router asks their holder."""
        assert self._leases is not None
        for name, country in operations:
            self._leases.forget((name, country))
            tenant = self._tenants.get(name)
            if tenant is not None:
                self._let_go(tenant, country)
        first = operations[0][0]
        return not_owner(first, [c for t, c in operations if t == first], why)

    def _lapsed(self, error: ApiError) -> ApiError:
        """What the jobs of a group that failed with `error` are answered. A replica paused
        inside a transaction past its lease has its session ended by PostgreSQL
        (`idle_in_transaction_session_timeout` is the lease), so when it resumes its write
        fails with the connection, not with the fence: when a lease of the group ran out
        meanwhile, the group is answered `not-owner` instead of `store-unavailable`, and
        the router asks the operation's holder now rather than failing the request. Nothing
        of the group was committed, or, if the connection went during COMMIT, its events
        are stored and the holder answers them as re-deliveries."""
        if self._leases is None or error.code != "store-unavailable":
            return error
        lapsed = sorted(op for op in self._group_ops if not self._leases.valid(op))
        if not lapsed:
            return error
        log.warning("a write for operations %s failed after this replica's lease ran out: "
                    "%s", ", ".join(f"{t}/{c}" for t, c in lapsed), error.message)
        return self._give_up(lapsed, "this replica's lease ran out while it wrote")

    def _take(self, operations: Iterable[Operation]) -> int:
        """Take over these operations where no other replica took them first (between
        groups; taking one over writes nothing); how many were taken."""
        taken = 0
        for name, country in operations:
            try:
                self._claim(self._tenant(name), [country])
                taken += 1
            except ApiError as exc:
                log.info("operation %s/%s not taken over: %s", name, country, exc)
        self._group_ops.clear()
        return taken

    def _take_orphans(self) -> None:
        """At start: take this replica's share of the operations nobody holds, so that
        their state is rebuilt (and their deadlines run) before the first request."""
        if self._leases is None:
            return
        try:
            orphans = self._leases.orphans()
        except DB_ERRORS as exc:
            log.warning("the operations nobody holds could not be listed: %s", exc)
            return
        if orphans:
            log.info("taking over %d operations nobody holds", self._take(orphans))

    def _release(self) -> None:
        """Let every lease go (a clean stop), so that other replicas need not wait."""
        if self._leases is not None:
            try:
                self._leases.release()
            except DB_ERRORS as exc:  # they run out by themselves
                log.warning("the leases could not be released: %s", exc)

    def _fence_group(self) -> None:
        # Kept until the group is committed or discarded: `_lapsed` reads them on failure.
        self._fence(self._group_ops)
        self._group_ops = set()
