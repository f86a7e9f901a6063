"""The loopback fake of Primero v2; see `FakePrimero`."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .payloads import fixture_bytes
from .server import FakeServer, Reply, Seen, utc

__all__ = [
    "PRIMERO_FORBIDDEN_USER", "PRIMERO_PASSWORD", "PRIMERO_TOKEN", "PRIMERO_USER", "FakePrimero",
]


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
                         if (not low or utc(c["last_updated_at"]) >= utc(low))
                         and (not high or utc(c["last_updated_at"]) <= utc(high))]
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
