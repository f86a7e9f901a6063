"""The KoboToolbox KPI v2 API calls the adapter makes (``Authorization: Token <key>``)."""

from __future__ import annotations

import json
from typing import Any

from mandate_rules.adapters import HttpClient, SourceRejectedError

from . import parser

__all__ = ["KoboClient"]


class KoboClient:
    """Submissions of one asset (form): list pages, set a validation status, edit a field."""

    def __init__(self, http: HttpClient, asset_uid: str) -> None:
        self.http = http
        self.asset_uid = asset_uid
        self.data_path = f"api/v2/assets/{asset_uid}/data/"

    def submissions_after(self, last_id: int | None, *, up_to: int | None = None,
                          since: str | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Submissions with ``_id`` above `last_id` (and at most `up_to`; submitted at or
        after `since`, in KPI's own format), in ``_id`` order, at most `limit`; and whether
        the server has more (its ``next``)."""
        query: dict[str, Any] = {}
        bounds = {"$gt": last_id, "$lte": up_to}
        if any(v is not None for v in bounds.values()):
            query["_id"] = {k: v for k, v in bounds.items() if v is not None}
        if since is not None:
            query["_submission_time"] = {"$gte": since}
        params = {"format": "json", "sort": json.dumps({"_id": 1}), "start": 0, "limit": limit}
        if query:
            params["query"] = json.dumps(query, sort_keys=True)
        body = self.http.get_listing(self.data_path, params=params, classify=parser.classify,
                                     expected=parser.SUBMISSION_LIST, what="a submission list")
        return parser.submissions(body), bool(body.get("next"))

    def submission(self, submission_id: str) -> dict[str, Any]:
        """One submission by its ``_id`` or root uuid, with its ``_validation_status``."""
        body = self.http.get_json(f"{self.data_path}{submission_id}/",
                                  params={"format": "json"})
        if not isinstance(body, dict) or not isinstance(body.get("_id"), int):
            raise SourceRejectedError(f"GET /{self.data_path}{submission_id}/: not a "
                                      f"submission (no whole-number _id)")
        return body

    def set_validation_status(self, submission_id: int, status: str) -> Any:
        """Set the status (whoever set the one before: read it first)."""
        return self.http.request_json(
            "PATCH", f"{self.data_path}{submission_id}/validation_status/",
            body={"validation_status.uid": status})

    def edit_field(self, submission_id: int, field: str, value: str) -> Any:
        """Bulk edit of one submission (KPI takes only the whole-number ``_id`` here); every
        call makes a new version of the submission, so read before calling it."""
        return self.http.request_json(
            "PATCH", f"{self.data_path}bulk/",
            body={"payload": {"submission_ids": [submission_id], "data": {field: value}}})
