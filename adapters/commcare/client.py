"""The CommCare HQ Case API v2 calls the adapter makes (``Authorization: ApiKey user:key``)."""

from __future__ import annotations

from typing import Any

from mandate_rules.adapters import HttpClient, SourceRejectedError

from . import parser

__all__ = ["CommCareClient"]


class CommCareClient:
    def __init__(self, http: HttpClient, domain: str) -> None:
        self.http = http
        self.domain = domain
        self.cases_path = f"a/{domain}/api/case/v2/"

    def cases(self, *, next_url: str | None, case_type: str, indexed_from: str | None,
              limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """One page of cases in ``indexed_on`` order, and the ``next`` URL (its cursor)."""
        params: dict[str, Any] | None = None
        if not next_url:
            params = {"case_type": case_type, "limit": limit}
            if indexed_from is not None:
                params["indexed_on.gte"] = indexed_from
        body = self.http.get_listing(next_url or self.cases_path, params=params,
                                     classify=parser.classify, expected=parser.CASE_LIST,
                                     what="a case list")
        following = body.get("next")
        return parser.records(body), str(following) if following else None

    def by_external_id(self, external_id: str) -> dict[str, Any] | None:
        """The case with this external id, or None when there is none (404)."""
        try:
            body = self.http.get_json(f"{self.cases_path}ext/{external_id}/")
        except SourceRejectedError as exc:
            if exc.status == 404:
                return None
            raise
        return body if isinstance(body, dict) else None

    def case(self, case_id: str) -> dict[str, Any]:
        body = self.http.get_json(f"{self.cases_path}{case_id}")
        if not isinstance(body, dict):
            raise SourceRejectedError(f"GET /{self.cases_path}{case_id}: not a case")
        return body

    # Every API write is recorded as a form (xmlns http://commcarehq.org/case_api), so even a
    # PUT is not resent blindly after an answer that leaves open whether it was saved: the
    # write-back reads back first (idempotent=False).
    def upsert_by_external_id(self, external_id: str, body: dict[str, Any]) -> Any:
        return self.http.request_json("PUT", f"{self.cases_path}ext/{external_id}/", body=body,
                                      idempotent=False)

    def update(self, case_id: str, body: dict[str, Any]) -> Any:
        return self.http.request_json("PUT", f"{self.cases_path}{case_id}", body=body,
                                      idempotent=False)
