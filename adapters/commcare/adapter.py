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
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mandate_rules.adapters import (
    Adapter,
    AdapterConfigError,
    AdapterError,
    Advisory,
    Batch,
    FieldMapping,
    HeaderAuth,
    HttpClient,
    Ignored,
    Pulled,
    Settings,
    WriteResult,
)

from .._shared import (
    DEFAULT_OVERLAP_SECONDS,
    host_of,
    json_body,
    later,
    make_client,
    mapping_for,
    overlap_seconds,
    read_cursor,
    shift_time,
    since_setting,
    source_setting,
    write_cursor,
)
from . import parser
from .client import CommCareClient
from .writeback import write_advisory

__all__ = ["CommCareAdapter"]

BUNDLED_MAPPING = Path(__file__).resolve().parent / "mapping.yaml"


class CommCareAdapter(Adapter):
    """Cases of one CommCare case type as events."""

    name = "commcare"

    def __init__(self, *, http: HttpClient, domain: str, case_type: str, mapping: FieldMapping,
                 page_size: int = 100, since: str | None = None, write_mode: str = "case",
                 advisory_case_type: str = "mandate_advisory", owner_id: str | None = None,
                 property_prefix: str = "mandate_advisory",
                 push_secret: str | None = None,
                 overlap: float = DEFAULT_OVERLAP_SECONDS, source: str | None = None) -> None:
        if write_mode == "case" and not owner_id:
            raise AdapterConfigError("commcare settings: write_back: owner_id: an advisory case "
                                     "needs an owner (a mobile worker, group or location id)")
        self.http = http
        self.overlap = overlap
        self.client = CommCareClient(http, domain)
        self.domain = domain
        self.case_type = case_type
        self.mapping = mapping
        self.page_size = page_size
        self.since = since
        self.write_mode = write_mode
        self.advisory_case_type = advisory_case_type
        self.owner_id = owner_id
        self.property_prefix = property_prefix
        self._push_secret = push_secret
        self._source = source or f"commcare://{host_of(http.base_url)}/a/{domain}/case/{case_type}"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, base_dir: Path,
                    env: Mapping[str, str]) -> CommCareAdapter:
        settings = Settings(config, where="commcare settings", base_dir=base_dir)
        key = settings.secret("api_key_env", env)
        write = settings.section("write_back")
        return cls(http=make_client(settings, HeaderAuth(
                       "ApiKey", f"{settings.text('username')}:{key}")),
                   domain=settings.text("domain"), case_type=settings.text("case_type"),
                   mapping=mapping_for(settings, BUNDLED_MAPPING),
                   page_size=settings.integer("page_size", 100, high=5000),
                   since=since_setting(settings, "micros"),
                   overlap=overlap_seconds(settings),
                   source=source_setting(settings),
                   write_mode=write.choice("mode", ("case", "property"), "case"),
                   advisory_case_type=write.text("case_type", "mandate_advisory"),
                   owner_id=write.optional_text("owner_id"),
                   property_prefix=write.text("prefix", "mandate_advisory"),
                   push_secret=settings.secret("push_secret_env", env, required=False))

    @property
    def source(self) -> str:
        return self._source

    @property
    def push_secret(self) -> str | None:
        return self._push_secret

    def close(self) -> None:
        self.http.close()

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
        return self.mapping.map_batch(parser.records(obj), source=self.source, system=self.name)

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
        batch = self.mapping.map_batch(cases, source=self.source, system=self.name)
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

    def remap(self, record: Mapping[str, Any]) -> Batch:
        return self.mapping.map_batch([record], source=self.source, system=self.name)

    def write_back(self, advisory: Advisory) -> WriteResult:
        if advisory.source != self.source:
            raise AdapterError(f"advisory {advisory.id} is about {advisory.source}, not "
                               f"{self.source}")
        return write_advisory(self.client, advisory, mode=self.write_mode,
                              case_type=self.advisory_case_type, owner_id=self.owner_id,
                              host_case_type=self.case_type, prefix=self.property_prefix)
