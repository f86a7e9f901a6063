"""The Primero v2 adapter: webhooks (one attempt, no retry), the ``last_updated_at`` pull as
the backstop, flags (or notes) as write-back.

Settings::

    base_url: https://primero.example.org
    source: primero://primero-somalia/cases
        # optional: the connection's stable identity (default: made from base_url)
    record_type: cases                       # or incidents, tracing_requests
    auth: {type: basic, user_env: PRIMERO_USER, password_env: PRIMERO_PASSWORD}
          # or {type: bearer, token_env: PRIMERO_TOKEN} (identity-provider deployments)
    mapping: my-mapping.yaml                 # optional: default is the bundled mapping
    page_size: 100                           # per, 1..1000
    since: "2026-01-01T00:00:00Z"            # optional: ignore older updates (any offset)
    overlap_seconds: 3600                    # each run re-reads updates this much older than
                                             # the newest read (see the guide)
    write_back: {mode: flag}                 # or {mode: note}
    push_secret_env: PRIMERO_WEBHOOK_SECRET  # the webhook's api_key (x-api-key) or Basic password
    record_url: "{base_url}/v2/{record_type}/{id}"
        # optional: a record's page in Primero's web application, shown as a link in the
        # console; this is the default; placeholders {base_url}, {record_type}, {id} (the
        # record's id, a UUID); false: no link
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from requests.auth import AuthBase

from mandate_rules.adapters import (
    AdapterError,
    Advisory,
    BasicAuth,
    Batch,
    HeaderAuth,
    HttpClient,
    Ignored,
    Pulled,
    Settings,
    SourceAdapter,
    SourceSettings,
    WriteResult,
)

from .._shared import json_body, later, read_cursor, shift_time, since_text, write_cursor
from . import parser
from .client import PrimeroClient
from .writeback import write_advisory

__all__ = ["PrimeroAdapter"]

# Always asked for, whatever the mapping reads: identity, versions and state.
_CORE_FIELDS = frozenset({"id", "last_updated_at", "created_at", "record_state"})


class PrimeroAdapter(SourceAdapter):
    """Records of one Primero record type as events."""

    name = "primero"
    bundled_mapping = Path(__file__).resolve().parent / "mapping.yaml"
    # The web application's record page (app/javascript/config/routes.js: /:recordType/:id,
    # under the application's /v2), on the server that serves the API.
    default_record_url = "{base_url}/v2/{record_type}/{id}"
    record_url_names = ("base_url", "record_type", "id")

    def __init__(self, common: SourceSettings, http: HttpClient, *, record_type: str = "cases",
                 write_mode: str = "flag") -> None:
        super().__init__(common, http)
        self.client = PrimeroClient(http, record_type)
        self.record_type = record_type
        self.since = since_text(common.since, "millis")
        self.write_mode = write_mode

    def default_source(self) -> str:
        return f"primero://{self.host}/{self.record_type}"

    def record_url_values(self, record_id: str) -> dict[str, str]:
        return {**super().record_url_values(record_id), "record_type": self.record_type}

    @classmethod
    def auth(cls, settings: Settings, env: Mapping[str, str]) -> AuthBase:
        auth_settings = settings.section("auth")
        if auth_settings.choice("type", ("basic", "bearer"), "basic") == "basic":
            return BasicAuth(str(auth_settings.secret("user_env", env)),
                             str(auth_settings.secret("password_env", env)))
        return HeaderAuth("Bearer", str(auth_settings.secret("token_env", env)))

    @classmethod
    def from_settings(cls, settings: Settings, common: SourceSettings,
                      http: HttpClient) -> PrimeroAdapter:
        return cls(common, http,
                   record_type=settings.choice("record_type",
                                               ("cases", "incidents", "tracing_requests"),
                                               "cases"),
                   write_mode=settings.section("write_back").choice("mode", ("flag", "note"),
                                                                    "flag"))

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Batch:
        """A webhook POST (``case.create``, ``case.update``): one record."""
        obj = json_body(body)
        found = parser.records(obj)
        record_type = found[0].get("record_type") if found else None
        if record_type and str(record_type).rstrip("s") != self.record_type.rstrip("s"):
            return Batch(ignored=[Ignored(parser.meta(found[0]).id,
                                          f"a {record_type} webhook; this adapter reads "
                                          f"{self.record_type}")])
        return self.map_records(found)

    def pull(self, cursor: str | None) -> Pulled:
        """Records updated at or after the cursor's time, oldest first.

        Each page re-anchors the range on the latest ``last_updated_at`` seen (a record
        updated while we page moves to the end, and fixed page numbers would skip one); the
        page number only advances while a whole page shares one timestamp. The range includes
        its start, so the cursor also keeps the ids already read at that instant, and those
        are not handed out twice.
        """
        state = read_cursor(cursor)
        since = state.get("since", self.since)
        page = state.get("page", 1)
        done_ids = state.get("ids", [])
        high = state.get("high")
        if not isinstance(page, int) or (since is not None and not isinstance(since, str)) \
                or not isinstance(done_ids, list) or not (high is None or isinstance(high, str)):
            raise AdapterError(f"not a primero cursor: {cursor!r}")
        fields = self.mapping.source_fields | _CORE_FIELDS
        found, total = self.client.updated_since(since, page=page, per=self.page_size,
                                                 fields=fields)
        more = total > page * self.page_size and bool(found)
        stamps = [str(r["last_updated_at"]) for r in found if r.get("last_updated_at")]
        latest = max(stamps, default=None)
        # The range includes its lower end: records at `since` already handed out are skipped.
        skip = set(done_ids)
        fresh = [r for r in found if not (str(r.get("last_updated_at")) == since
                                          and str(r.get("id")) in skip)]
        if latest is not None and latest != since:
            at_latest = [str(r.get("id")) for r in found
                         if str(r.get("last_updated_at")) == latest]
            next_state: dict[str, Any] = {"since": latest, "page": 1, "ids": sorted(at_latest)}
        else:
            at_since = skip | {str(r.get("id")) for r in found}
            next_state = {"since": since, "page": page + 1 if more else page,
                          "ids": sorted(at_since)}
        # The newest update read, kept through the overlap window (where `since` is lower).
        next_state["high"] = later(high, next_state["since"])
        batch = self.map_records(fresh)
        return Pulled(batch.events, batch.rejected, batch.ignored,
                      cursor=write_cursor(next_state), more=more)

    def rewind(self, cursor: str) -> str:
        """The overlap: read again from `overlap` seconds before the newest update read.

        Primero stamps ``last_updated_at`` in a ``before_save`` callback (primero
        ``app/models/concerns/historical.rb``, ``update_last_updated_at``), inside the
        transaction, so an update whose transaction commits late becomes readable with a
        stamp below one already read.
        """
        state = read_cursor(cursor)
        high = later(state.get("high"), state.get("since"))
        if not isinstance(high, str):
            return cursor
        since = shift_time(high, self.overlap, "millis")
        if self.since is not None:
            since = later(since, self.since) or since
        return write_cursor({"since": since, "page": 1, "ids": [], "high": high})

    def write(self, advisory: Advisory, record_id: str) -> WriteResult:
        return write_advisory(self.client, advisory, record_id, mode=self.write_mode)
