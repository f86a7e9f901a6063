"""The CommCare HQ adapter: JSON case forwarding (form forwarding is acknowledged, its cases
come by case forwarding or the pull), the Case API v2 cursor pull, advisory-case write-back.

Settings::

    base_url: https://www.commcarehq.org   # or your CommCare HQ server
    source: commcare://commcare-field-ops/a/my-project-space/case/movement_request
        # optional: the connection's stable identity (default: made from base_url)
    domain: my-project-space
    case_type: movement_request            # the case type the mapping reads
    username: api-user@example.org
    api_key_env: COMMCARE_API_KEY          # variable holding the API key
    mapping: my-mapping.yaml               # optional: default is the bundled mapping
    page_size: 100                         # limit, 1..5000
    since: "2026-01-01T00:00:00Z"          # optional: indexed_on lower bound (any offset)
    overlap_seconds: 3600                  # each run re-reads cases indexed this much before
                                           # the newest read (see the guide)
    write_back: {mode: case, case_type: mandate_advisory, owner_id: <user or location id>}
                # or {mode: property, prefix: mandate_advisory}
    push_secret_env: COMMCARE_FORWARD_SECRET   # the Connection Settings' password or token
    record_url: "{base_url}/a/{domain}/reports/case_data/{case_id}/"
        # optional: a case's page in CommCare HQ (its case data report), shown as a link in
        # the console; this is the default; placeholders {base_url}, {domain}, {case_type},
        # {case_id} (also {id}); false: no link
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from requests.auth import AuthBase

from mandate_rules.adapters import (
    AdapterConfigError,
    AdapterError,
    Advisory,
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
from .client import CommCareClient
from .writeback import write_advisory

__all__ = ["CommCareAdapter"]


class CommCareAdapter(SourceAdapter):
    """Cases of one CommCare case type as events."""

    name = "commcare"
    bundled_mapping = Path(__file__).resolve().parent / "mapping.yaml"
    max_page_size = 5000
    record_noun = "case"
    default_record_url = "{base_url}/a/{domain}/reports/case_data/{case_id}/"
    record_url_names = ("base_url", "domain", "case_type", "case_id", "id")

    def __init__(self, common: SourceSettings, http: HttpClient, *, domain: str,
                 case_type: str, write_mode: str = "case",
                 advisory_case_type: str = "mandate_advisory", owner_id: str | None = None,
                 property_prefix: str = "mandate_advisory") -> None:
        if write_mode == "case" and not owner_id:
            raise AdapterConfigError("commcare settings: write_back: owner_id: an advisory case "
                                     "needs an owner (a mobile worker, group or location id)")
        super().__init__(common, http)
        self.client = CommCareClient(http, domain)
        self.domain = domain
        self.case_type = case_type
        self.since = since_text(common.since, "micros")
        self.write_mode = write_mode
        self.advisory_case_type = advisory_case_type
        self.owner_id = owner_id
        self.property_prefix = property_prefix

    def default_source(self) -> str:
        return f"commcare://{self.host}/a/{self.domain}/case/{self.case_type}"

    def record_url_values(self, record_id: str) -> dict[str, str]:
        return {**super().record_url_values(record_id), "domain": self.domain,
                "case_type": self.case_type, "case_id": record_id}

    @classmethod
    def auth(cls, settings: Settings, env: Mapping[str, str]) -> AuthBase:
        key = settings.secret("api_key_env", env)
        return HeaderAuth("ApiKey", f"{settings.text('username')}:{key}")

    @classmethod
    def from_settings(cls, settings: Settings, common: SourceSettings,
                      http: HttpClient) -> CommCareAdapter:
        write = settings.section("write_back")
        return cls(common, http, domain=settings.text("domain"),
                   case_type=settings.text("case_type"),
                   write_mode=write.choice("mode", ("case", "property"), "case"),
                   advisory_case_type=write.text("case_type", "mandate_advisory"),
                   owner_id=write.optional_text("owner_id"),
                   property_prefix=write.text("prefix", "mandate_advisory"))

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Batch:
        """A forwarded case (JSON), a forwarded form (JSON) or a form stub.

        A form carries only the case changes its questions made, not the case: its cases are
        read from case forwarding or the next pull, so a form is acknowledged and ignored.
        """
        obj = json_body(body)
        kind = parser.classify(obj)
        if kind in (parser.FORM, parser.FORM_STUB):
            form_id = str(obj.get("form_id") or obj.get("id"))
            if parser.form_xmlns(obj) == parser.CASE_API_XMLNS:
                reason = "a Case API form (a write through the API, ours among them)"
            else:
                cases = ", ".join(parser.form_case_ids(obj)) or "none"
                reason = (f"a {kind.replace('_', ' ')}: its cases ({cases}) are read from case "
                          f"forwarding or the next pull")
            return Batch(ignored=[Ignored(form_id, reason)])
        return self.map_records(parser.records(obj))

    def pull(self, cursor: str | None) -> Pulled:
        """Cases of the configured type in ``indexed_on`` order, following CommCare's own
        cursor (the ``next`` URL), which is stored so a restart resumes on the same page."""
        state = read_cursor(cursor)
        indexed_from = state.get("indexed_on", self.since)
        next_url = state.get("next")
        high = state.get("high")
        if (next_url is not None and not isinstance(next_url, str)) \
                or not (high is None or isinstance(high, str)):
            raise AdapterError(f"not a commcare cursor: {cursor!r}")
        cases, following = self.client.cases(next_url=next_url, case_type=self.case_type,
                                             indexed_from=indexed_from, limit=self.page_size)
        stamps = [str(c["indexed_on"]) for c in cases if c.get("indexed_on")]
        latest = indexed_from
        for stamp in stamps:  # compared as times: the window's start is written by us
            latest = later(latest, stamp)
        batch = self.map_records(cases)
        return Pulled(batch.events, batch.rejected, batch.ignored,
                      cursor=write_cursor({"indexed_on": latest, "next": following,
                                           "high": later(high, latest)}),
                      more=following is not None)

    def rewind(self, cursor: str) -> str:
        """The overlap: read again from `overlap` seconds before the newest ``indexed_on``.

        CommCare stamps ``@indexed_on`` when its indexer builds the search document
        (commcare-hq ``corehq/apps/es/case_search.py``), and the Case API lists what the
        search index shows, in that order (``corehq/apps/hqcase/api/get_list.py``); the
        index shows a document only once written and refreshed, and indexers run in
        parallel, so a case stamped earlier can appear after a later one was read.
        """
        state = read_cursor(cursor)
        high = later(state.get("high"), state.get("indexed_on"))
        if state.get("next") or not isinstance(high, str):
            # A run that stopped resumes on its page; the run after it opens the window.
            return cursor
        start = shift_time(high, self.overlap, "micros")
        if self.since is not None:
            start = later(start, self.since) or start
        return write_cursor({"indexed_on": start, "next": None, "high": high})

    def write(self, advisory: Advisory, record_id: str) -> WriteResult:
        return write_advisory(self.client, advisory, record_id, mode=self.write_mode,
                              case_type=self.advisory_case_type, owner_id=self.owner_id,
                              host_case_type=self.case_type, prefix=self.property_prefix)
