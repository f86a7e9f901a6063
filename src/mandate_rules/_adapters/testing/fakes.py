"""Loopback fakes of the three source systems: real HTTP over a real socket on 127.0.0.1,
serving the sources' real payloads with each system's paging and auth mechanics, and
recording every request. Failures are injected per request (`fail`), or by stopping the
server. Standard library only (no pytest): tests, and an integrator at the command line
(``python -m mandate_rules.adapters.testing``), use the same fakes."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs

from .payloads import fixture, fixture_bytes

__all__ = [
    "COMMCARE_DOMAIN",
    "COMMCARE_KEY",
    "COMMCARE_USER",
    "KOBO_ASSET",
    "KOBO_TOKEN",
    "PRIMERO_FORBIDDEN_USER",
    "PRIMERO_PASSWORD",
    "PRIMERO_TOKEN",
    "PRIMERO_USER",
    "FakeCommCare",
    "FakeKobo",
    "FakePrimero",
    "FakeServer",
    "Reply",
    "Seen",
]


@attrs.define
class Seen:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


@attrs.define
class Reply:
    """An answer the fake sends."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, **headers: str) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(obj).encode(), {"Content-Type": "application/json",
                                                       **headers})


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 whose answers come from `handle`.

    `adapter` names the adapter that reads it; `settings` and `env` are that adapter's
    settings and credentials' environment pointed at this server."""

    adapter = ""
    env: Mapping[str, str] = {}

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Seen] = []
        self.handled: list[Seen] = []  # the requests the source acted on (not `fail`ed)
        self.failures: list[tuple[Callable[[Seen], bool], Reply]] = []
        self.lost_answers: list[tuple[Callable[[Seen], bool], Reply | float]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path,
                            {k: v[-1] for k, v in parse_qs(parts.query).items()},
                            {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"")
                reply = owner._dispatch(seen)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._handler = Handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self._serve()

    def _serve(self) -> None:
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    def go_down(self) -> None:
        """Stop listening: connections are refused until `come_back`."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port, with the same data."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self._serve()

    def fail(self, reply: Reply, when: Callable[[Seen], bool] = lambda s: True,
             times: int = 1) -> None:
        """Answer the next `times` requests that match `when` with `reply`."""
        for _ in range(times):
            self.failures.append((when, reply))

    def lose_answer(self, reply: Reply | float, when: Callable[[Seen], bool] = lambda s: True,
                    times: int = 1) -> None:
        """Act on the next `times` requests that match `when`, then lose the answer: send
        `reply` instead, or, given a number of seconds, answer only that much later.

        This is what a client sees when a source behind a reverse proxy is slow or restarts
        mid-request. Primero's nginx (``docker/nginx/root/etc/nginx/conf.d/
        primero.conf.template``, primeroIMS/primero@001bde2b) proxies the API with
        ``proxy_read_timeout``: past it nginx answers 504 while Rails goes on and saves; a
        worker that dies after saving gives a 502. KoboToolbox and CommCare HQ are served
        behind nginx the same way. The write happened; the answer says it failed (or none
        comes before the client's read timeout)."""
        for _ in range(times):
            self.lost_answers.append((when, reply))

    def _dispatch(self, seen: Seen) -> Reply:
        lost: Reply | float | None = None
        with self._lock:
            self.requests.append(seen)
            for index, (when, reply) in enumerate(self.failures):
                if when(seen):
                    del self.failures[index]
                    return reply
            for index, (when, instead) in enumerate(self.lost_answers):
                if when(seen):
                    del self.lost_answers[index]
                    lost = instead
                    break
        answer = self.handle(seen)
        with self._lock:
            self.handled.append(seen)
        if isinstance(lost, Reply):
            return lost
        if lost is not None:
            time.sleep(lost)  # the client has given up by now
        return answer

    def handle(self, seen: Seen) -> Reply:
        """The answer to `seen` (the source's behaviour)."""
        raise NotImplementedError

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The adapter's settings pointed at this server (`extra` added or overriding)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop listening and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def writes(self) -> list[Seen]:
        """The requests that change something (write-back)."""
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def applied(self) -> list[Seen]:
        """The writes the source acted on (those `fail` answered are not among them; those
        whose answer was lost are)."""
        with self._lock:
            return [r for r in self.handled if r.method in ("POST", "PUT", "PATCH", "DELETE")]


# --------------------------------------------------------------------------------- KoboToolbox

KOBO_TOKEN = "fake-kobo-token"  # a made-up test credential for the fake server
KOBO_ASSET = "aEscReq2026SOM"


class FakeKobo(FakeServer):
    """KPI v2: ``Authorization: Token``, ``query``/``sort``/``start``/``limit`` with absolute
    ``next`` links, one submission by ``_id`` or root uuid, validation status and bulk edit.

    ``query`` is a MongoDB filter over the stored documents, where ``_submission_time`` is
    text (``%Y-%m-%dT%H:%M:%S``, UTC, no zone: kpi
    ``kobo/apps/openrosa/apps/logger/models/instance.py`` writes ``date_created`` with
    ``MONGO_STRFTIME``), so ``$gt``/``$gte``/``$lt``/``$lte`` compare it as text, as Mongo
    does: a bound written with ``Z`` or an offset compares wrongly.

    The late row: kpi ``kobo/apps/openrosa/libs/utils/logger_tools.py`` (``create_instance``)
    saves the ``Instance`` row (its ``_id`` and ``_submission_time`` are taken), then the
    attachments, and only then the ``ParsedInstance`` that writes the document the data API
    reads; `save_row` and `finish` reproduce a submission between the two, so a lower
    ``_id`` becomes readable after a higher one.

    Write-back as KPI does it (kobotoolbox/kpi):

    * ``GET .../data/{id}/`` takes the ``_id`` or the root uuid (reference/adapters.md) and
      shows the submission with its ``_validation_status`` (``{timestamp, uid, by_whom,
      label}``, or ``{}`` when none was set).
    * ``PATCH .../data/{id}/validation_status/`` sets the status, whoever set the one before:
      `review` sets one as a person would, and `status_by` says who set each.
    * ``PATCH .../data/bulk/`` takes only integer ``submission_ids``; anything else is a 400
      (``DataBulkActionsValidator``, ``kpi/serializers/v2/data.py``). Every edit, even one that
      sets the value already there, makes a new version: a new ``meta/instanceID`` and the
      old one as ``meta/deprecatedID`` (``bulk_update_submissions`` of the deployment
      back ends, ``kpi/deployment_backends/mock_backend.py``); `versions` counts them.
    """

    adapter = "kobotoolbox"
    env: Mapping[str, str] = {"KOBO_TOKEN": KOBO_TOKEN}

    def __init__(self, submissions: list[dict[str, Any]] | None = None, port: int = 0) -> None:
        super().__init__(port)
        self.submissions = submissions if submissions is not None else copy.deepcopy(
            fixture("kobotoolbox", "formpack_or_other_data_submissions.json"))
        self.statuses: dict[str, str] = {}
        self.status_by: dict[str, str] = {}
        self.fields: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.unreadable: set[int] = set()

    def save_row(self, submission: dict[str, Any]) -> None:
        """Insert `submission` as KPI does first: its row exists, the data API does not show
        it until `finish`."""
        with self._lock:
            self.submissions.append(submission)
            self.unreadable.add(submission["_id"])

    def finish(self, ident: int) -> None:
        """The attachments are saved and the document written: the submission is readable."""
        with self._lock:
            self.unreadable.discard(ident)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": self.base_url, "asset_uid": KOBO_ASSET, "token_env": "KOBO_TOKEN",
                **extra}

    def review(self, submission_id: int | str, uid: str, by_whom: str) -> None:
        """A person sets the validation status in the data table."""
        self.statuses[str(submission_id)] = uid
        self.status_by[str(submission_id)] = by_whom

    def _find(self, ident: str) -> dict[str, Any] | None:
        for submission in self.submissions:
            if ident in (str(submission.get("_id")), submission.get("meta/rootUuid"),
                         str(submission.get("meta/rootUuid", "")).removeprefix("uuid:")):
                return submission
        return None

    def _status(self, key: str) -> dict[str, Any]:
        uid = self.statuses.get(key)
        if uid is None:
            return {}
        label = uid.removeprefix("validation_status_").replace("_", " ").title()
        return {"timestamp": 1763614364, "uid": uid, "label": label,
                "by_whom": self.status_by.get(key, "api_user")}

    def handle(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Token {KOBO_TOKEN}":
            return Reply.json(401, {"detail": "Invalid token."})
        prefix = f"/api/v2/assets/{KOBO_ASSET}/data/"
        if not seen.path.startswith(prefix):
            return Reply.json(404, {"detail": "Not found."})
        rest = seen.path[len(prefix):]
        if seen.method == "GET" and rest == "":
            return self._list(seen)
        if seen.method == "PATCH" and rest == "bulk/":
            return self._bulk(seen)
        parts = rest.strip("/").split("/")
        submission = self._find(parts[0])
        if submission is None:
            return Reply.json(404, {"detail": "Not found."})
        key = str(submission["_id"])
        if seen.method == "GET" and len(parts) == 1:
            return Reply.json(200, {**submission, "_validation_status": self._status(key)})
        if seen.method == "PATCH" and parts[1:] == ["validation_status"]:
            self.statuses[key] = str((seen.json or {}).get("validation_status.uid"))
            self.status_by[key] = "api_user"
            return Reply.json(200, self._status(key))
        return Reply.json(405, {"detail": f'Method "{seen.method}" not allowed.'})

    def _bulk(self, seen: Seen) -> Reply:
        payload = (seen.json or {}).get("payload") or {}
        idents = payload.get("submission_ids", [])
        if not idents or not all(isinstance(i, int) or str(i).isdigit() for i in idents):
            return Reply.json(400, {"payload": [
                "`submission_ids` must only contain integer values"]})
        results = []
        for ident in idents:
            submission = self._find(str(ident))
            if submission is None:
                continue
            key = str(submission["_id"])
            new_uuid = f"uuid:{key}-v{self.versions.get(key, 0) + 2}"
            submission["meta/deprecatedID"] = submission.get("meta/instanceID")
            submission["meta/instanceID"] = new_uuid
            submission.update(payload.get("data") or {})
            self.fields.setdefault(key, {}).update(payload.get("data") or {})
            self.versions[key] = self.versions.get(key, 0) + 1
            results.append({"uuid": new_uuid, "status_code": 201,
                            "message": "Successful submission."})
        return Reply.json(200, {"count": len(idents), "successes": len(results),
                                "failures": len(idents) - len(results), "results": results})

    def _list(self, seen: Seen) -> Reply:
        query = json.loads(seen.query.get("query", "{}"))
        with self._lock:
            items = [s for s in self.submissions if s["_id"] not in self.unreadable]
        try:
            items = [s for s in items if _mongo_match(s, query)]
        except ValueError as exc:
            return Reply.json(400, {"detail": str(exc)})
        if json.loads(seen.query.get("sort", "{}")) == {"_id": 1}:
            items.sort(key=lambda s: s["_id"])
        start, limit = int(seen.query.get("start", 0)), int(seen.query.get("limit", 100))
        page = items[start:start + limit]
        following = None
        if start + limit < len(items):
            following = f"{self.base_url}api/v2/assets/{KOBO_ASSET}/data/?" + urlencode(
                {**seen.query, "start": start + limit})
        return Reply.json(200, {"count": len(items), "next": following, "previous": None,
                                "results": page})


def _utc(text: str) -> dt.datetime:
    """An ISO 8601 time as the servers that parse one read it (no zone: UTC)."""
    value = text[:-1] + "+00:00" if text.endswith("Z") else text
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


_MONGO_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b,
    "$eq": lambda a, b: a == b, "$ne": lambda a, b: a != b}


def _mongo_match(document: dict[str, Any], query: dict[str, Any]) -> bool:
    """The subset of a MongoDB filter the data API's ``query`` is used with: per field, a
    value (equality) or comparison operators, compared as the stored types (text as text)."""
    for field, condition in query.items():
        value = document.get(field)
        if not isinstance(condition, dict):
            if value != condition:
                return False
            continue
        for operator, bound in condition.items():
            compare = _MONGO_OPERATORS.get(operator)
            if compare is None:
                raise ValueError(f"operator {operator} is not in the fake")
            if value is None or type(value) is not type(bound) or not compare(value, bound):
                return False
    return True


# --------------------------------------------------------------------------------- Primero

PRIMERO_USER, PRIMERO_PASSWORD = "api_integration", "fake-primero-password"  # made up
PRIMERO_TOKEN = "fake-primero-bearer"  # made up
PRIMERO_FORBIDDEN_USER = "no_permission"


class FakePrimero(FakeServer):
    """Primero v2: Basic or bearer auth, ``page``/``per`` with ``metadata``, ``order_by``,
    ``last_updated_at`` ranges, ``fields``, flags and PATCH; error bodies from the fixtures.

    A ``last_updated_at=a..b`` range is read as times (primero ``DestringifyService``), so a
    bound may carry ``Z`` or an offset. The late commit: primero
    ``app/models/concerns/historical.rb`` stamps ``last_updated_at`` in a ``before_save``
    callback, inside the transaction, so a record whose transaction commits late shows a
    stamp below records already listed; `save_late` and `commit` reproduce it.
    """

    adapter = "primero"
    env: Mapping[str, str] = {"PRIMERO_USER": PRIMERO_USER, "PRIMERO_PASSWORD": PRIMERO_PASSWORD}

    def __init__(self, cases: list[dict[str, Any]] | None = None, port: int = 0) -> None:
        super().__init__(port)
        self.cases = cases or []
        self.flags: dict[str, list[dict[str, Any]]] = {}
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self.serve_doc_list = False
        self.uncommitted: set[str] = set()

    def save_late(self, case: dict[str, Any]) -> None:
        """Stamp and save `case` in a transaction not yet committed: not listed until
        `commit`."""
        with self._lock:
            self.cases.append(case)
            self.uncommitted.add(case["id"])

    def commit(self, record_id: str) -> None:
        """The transaction commits: the record is listed, with the stamp it got before."""
        with self._lock:
            self.uncommitted.discard(record_id)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": self.base_url,
                "auth": {"type": "basic", "user_env": "PRIMERO_USER",
                         "password_env": "PRIMERO_PASSWORD"}, **extra}

    def _auth(self, seen: Seen) -> Reply | None:
        header = seen.headers.get("authorization", "")
        ok_basic = "Basic " + base64.b64encode(
            f"{PRIMERO_USER}:{PRIMERO_PASSWORD}".encode()).decode()
        forbidden = "Basic " + base64.b64encode(
            f"{PRIMERO_FORBIDDEN_USER}:{PRIMERO_PASSWORD}".encode()).decode()
        if header == forbidden:
            return Reply(403, fixture_bytes("primero", "cases_index_403_response.json"),
                         {"Content-Type": "application/json"})
        if header not in (ok_basic, f"Bearer {PRIMERO_TOKEN}"):
            return Reply(401, fixture_bytes("primero", "tokens_post_401_response.json"),
                         {"Content-Type": "application/json"})
        return None

    def handle(self, seen: Seen) -> Reply:
        denied = self._auth(seen)
        if denied is not None:
            return denied
        parts = seen.path.strip("/").split("/")
        if parts[:3] != ["api", "v2", "cases"]:
            return Reply.json(404, {"errors": [{"code": 404, "message": "Not Found"}]})
        if len(parts) == 3 and seen.method == "GET":
            if self.serve_doc_list:
                return Reply(200, fixture_bytes("primero", "cases_index_response.json"),
                             {"Content-Type": "application/json"})
            return self._index(seen)
        record_id = parts[3]
        if len(parts) == 5 and parts[4] == "flags":
            if seen.method == "POST":
                data = (seen.json or {})["data"]
                self.flags.setdefault(record_id, []).append(
                    {"id": 4 + len(self.flags[record_id]), "record_id": record_id,
                     "record_type": "cases", "date": data["date"], "message": data["message"],
                     "flagged_by": PRIMERO_USER, "removed": False})
                return Reply(200, fixture_bytes("primero", "flag_create_response.json"),
                             {"Content-Type": "application/json"})
            if record_id == "749e9c6e-60db-45ec-8f5a-69da7c223a79":
                return Reply(200, fixture_bytes("primero", "flags_index_response.json"),
                             {"Content-Type": "application/json"})
            return Reply.json(200, {"data": self.flags.get(record_id, [])})
        if len(parts) == 4 and seen.method == "PATCH":
            data = (seen.json or {}).get("data") or {}
            self.notes.setdefault(record_id, []).extend(data.get("notes_section", []))
            return Reply.json(200, {"data": data})
        if len(parts) == 4 and seen.method == "GET":
            return Reply.json(200, {"data": {"id": record_id,
                                             "notes_section": self.notes.get(record_id, [])}})
        return Reply.json(404, {"errors": [{"code": 404, "message": "Not Found"}]})

    def _index(self, seen: Seen) -> Reply:
        with self._lock:
            items = [c for c in self.cases if c["id"] not in self.uncommitted]
        span = seen.query.get("last_updated_at")
        if span:
            low, _, high = span.partition("..")
            try:
                items = [c for c in items
                         if (not low or _utc(c["last_updated_at"]) >= _utc(low))
                         and (not high or _utc(c["last_updated_at"]) <= _utc(high))]
            except ValueError:
                return Reply.json(422, {"errors": [{"status": 422, "resource": "/api/v2/cases",
                                                    "message": f"bad range {span!r}"}]})
        if seen.query.get("order_by") == "last_updated_at":
            items.sort(key=lambda c: (c["last_updated_at"], c["id"]),
                       reverse=seen.query.get("order", "desc") == "desc")
        page, per = int(seen.query.get("page", 1)), min(int(seen.query.get("per", 20)), 1000)
        chosen = items[(page - 1) * per: page * per]
        if seen.query.get("fields"):
            wanted = set(seen.query["fields"].split(","))
            chosen = [{k: v for k, v in c.items() if k in wanted} for c in chosen]
        return Reply.json(200, {"data": chosen,
                                "metadata": {"total": len(items), "per": per, "page": page}})


# --------------------------------------------------------------------------------- CommCare

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
                low = _utc(query["indexed_on.gte"])
            except ValueError:
                return Reply.json(400, {"error": f"bad indexed_on.gte {query['indexed_on.gte']!r}"})
            items = [c for c in items if _utc(c["indexed_on"]) >= low]
        items.sort(key=lambda c: (_utc(c["indexed_on"]), c["case_id"]))
        if after is not None:
            mark = (_utc(after[0]), after[1])
            items = [c for c in items if (_utc(c["indexed_on"]), c["case_id"]) > mark]
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
