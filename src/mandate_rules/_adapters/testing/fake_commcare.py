"""The loopback fake of CommCare HQ's Case API v2; see `FakeCommCare`."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from .payloads import fixture
from .server import FakeServer, Reply, Seen, utc

__all__ = ["COMMCARE_DOMAIN", "COMMCARE_KEY", "COMMCARE_USER", "FakeCommCare"]


COMMCARE_USER, COMMCARE_KEY = "api@example.org", "fake-commcare-key"  # made up
COMMCARE_DOMAIN = "field-ops"


class FakeCommCare(FakeServer):
    """Case API v2: ``ApiKey`` auth, ``indexed_on`` order with a base64 ``cursor`` in absolute
    ``next`` links, ``limit``, one case by id or external id (``GET .../case/v2/<case_id>``,
    ``GET .../case/v2/ext/<external_id>/``, 404 when there is none), and update or upsert by
    external id (``PUT``), per ``docs/api/cases-v2.rst`` (reference/adapters.md). Every write
    is one more form in CommCare; `applied` lists them.

    ``indexed_on.gte`` is read as a time. The late index: commcare-hq stamps ``@indexed_on``
    when its indexer builds the search document (``corehq/apps/es/case_search.py``) and the
    Case API lists what the search index shows, in that order
    (``corehq/apps/hqcase/api/get_list.py``); a document shows only once written and
    refreshed, so a case stamped earlier can appear after a later one was listed;
    `index_late` and `refresh` reproduce it.
    """

    adapter = "commcare"
    env: Mapping[str, str] = {"COMMCARE_KEY": COMMCARE_KEY}

    def __init__(self, cases: list[dict[str, Any]] | None = None, port: int = 0) -> None:
        super().__init__(port)
        self.cases = cases if cases is not None else [
            fixture("commcare", "case_v2_single.json"),
            *fixture("commcare", "case_v2_list_response.json")["cases"]]
        self.by_external: dict[str, dict[str, Any]] = {}
        self.throttled_until = 0.0
        self.unrefreshed: set[str] = set()

    def throttle(self, seconds: float) -> None:
        """Rate-limit the project for `seconds` from now: every API call is answered 429 with
        ``Retry-After`` the time left as CommCare computes it, a float sent as it is
        (``HQThrottle.retry_after`` in ``corehq/apps/api/resources/meta.py`` returns
        ``RateLimiter.get_retry_after``, a float, ``corehq/project_limits/rate_limiter.py``;
        dimagi/commcare-hq@06a64fe8): ``Retry-After: 1.5``, not a whole number."""
        self.throttled_until = time.monotonic() + seconds

    def index_late(self, case: dict[str, Any]) -> None:
        """Stamp `case`'s ``indexed_on`` and write it to an index not yet refreshed: not
        listed until `refresh`."""
        with self._lock:
            self.cases.append(case)
            self.unrefreshed.add(case["case_id"])

    def refresh(self, case_id: str) -> None:
        """The index refreshes: the case is listed, with the stamp it got before."""
        with self._lock:
            self.unrefreshed.discard(case_id)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": self.base_url, "domain": COMMCARE_DOMAIN,
                "case_type": "movement_request", "username": COMMCARE_USER,
                "api_key_env": "COMMCARE_KEY",
                "write_back": {"mode": "case", "owner_id": "owner-field-team-1"}, **extra}

    def handle(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"ApiKey {COMMCARE_USER}:{COMMCARE_KEY}":
            return Reply.json(401, {"error": "Your credentials are invalid."})
        left = self.throttled_until - time.monotonic()
        if left > 0:
            return Reply(429, b"", {"Retry-After": str(round(left, 3))})
        prefix = f"/a/{COMMCARE_DOMAIN}/api/case/v2/"
        if not seen.path.startswith(prefix):
            return Reply.json(403, {"error": "You do not have access to this project space."})
        rest = seen.path[len(prefix):]
        if seen.method == "GET" and rest == "":
            return self._list(seen)
        if seen.method == "GET" and rest.startswith("ext/"):
            found = self.by_external.get(rest[len("ext/"):].strip("/"))
            if found is None:
                return Reply.json(404, {"error": "Case not found"})
            return Reply.json(200, found)
        if seen.method == "GET" and rest:
            case = next((c for c in [*self.cases, *self.by_external.values()]
                         if c.get("case_id") == rest.strip("/")), None)
            if case is None:
                return Reply.json(404, {"error": "Case not found"})
            return Reply.json(200, case)
        if seen.method == "PUT" and rest.startswith("ext/"):
            external = rest[len("ext/"):].strip("/")
            body = dict(seen.json or {})
            case = self.by_external.get(external)
            if case is None:
                case = {"case_id": f"adv-{len(self.by_external) + 1}", "external_id": external,
                        "domain": COMMCARE_DOMAIN, "closed": False}
                self.by_external[external] = case
            case.update({k: v for k, v in body.items() if k != "properties"})
            case.setdefault("properties", {}).update(body.get("properties") or {})
            return Reply.json(200, {"form_id": "f-" + external[:8], "case": case})
        if seen.method == "PUT" and rest:
            case = next((c for c in self.cases if c.get("case_id") == rest.strip("/")), None)
            if case is None:
                return Reply.json(404, {"error": "Case not found"})
            case.setdefault("properties", {}).update((seen.json or {}).get("properties") or {})
            return Reply.json(200, {"form_id": "f-1", "case": case})
        return Reply.json(405, {"error": "method not allowed"})

    def _list(self, seen: Seen) -> Reply:
        query = dict(seen.query)
        after: tuple[str, str] | None = None
        if "cursor" in query:
            state = json.loads(base64.b64decode(query.pop("cursor")))
            query.update(state["query"])
            after = (state["indexed_on"], state["last_case_id"])
        with self._lock:
            items = [c for c in self.cases if c.get("case_type") == query.get("case_type")
                     and c["case_id"] not in self.unrefreshed]
        if "indexed_on.gte" in query:
            try:
                low = utc(query["indexed_on.gte"])
            except ValueError:
                return Reply.json(400, {"error": f"bad indexed_on.gte {query['indexed_on.gte']!r}"})
            items = [c for c in items if utc(c["indexed_on"]) >= low]
        items.sort(key=lambda c: (utc(c["indexed_on"]), c["case_id"]))
        if after is not None:
            mark = (utc(after[0]), after[1])
            items = [c for c in items if (utc(c["indexed_on"]), c["case_id"]) > mark]
        limit = min(int(query.get("limit", 20)), 5000)
        page = items[:limit]
        body: dict[str, Any] = {"matching_records": len(items), "cases": page}
        if len(items) > limit:
            last = page[-1]
            cursor = base64.b64encode(json.dumps(
                {"query": {k: v for k, v in query.items()}, "indexed_on": last["indexed_on"],
                 "last_case_id": last["case_id"]}).encode()).decode()
            body["next"] = (f"{self.base_url}a/{COMMCARE_DOMAIN}/api/case/v2/?"
                            + urlencode({"cursor": cursor}))
        return Reply.json(200, body)
