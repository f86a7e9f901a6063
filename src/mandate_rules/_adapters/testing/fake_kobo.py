"""The loopback fake of KoboToolbox (KPI v2); see `FakeKobo`."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode

from .payloads import fixture
from .server import FakeServer, Reply, Seen

__all__ = ["KOBO_ASSET", "KOBO_TOKEN", "FakeKobo"]


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


_MONGO_OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = MappingProxyType({
    "$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b,
    "$eq": lambda a, b: a == b, "$ne": lambda a, b: a != b})


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
