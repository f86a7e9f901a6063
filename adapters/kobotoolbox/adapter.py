"""The KoboToolbox adapter: REST Service pushes, the data API pull, validation-status or
field write-back.

Settings::

    base_url: https://kf.kobotoolbox.org   # or eu.kobotoolbox.org, or your server
    source: kobotoolbox://kobo-somalia/assets/aBc123XyZ
        # optional: the connection's stable identity (default: made from base_url)
    asset_uid: aBc123XyZ                   # the form
    token_env: KOBO_API_TOKEN              # variable holding the API token
    mapping: my-mapping.yaml               # optional: default is the bundled mapping
    page_size: 100                         # 1..1000
    since: "2026-01-01T00:00:00Z"          # optional: ignore older submissions (any offset)
    overlap_seconds: 3600                  # each run re-reads submissions this much older
                                           # than the newest read (see the guide)
    write_back: {mode: validation_status, status: validation_status_on_hold}
                # a status a person set is kept unless overwrite_status: true;
                # or {mode: field, field: advisory}
    push_secret_env: KOBO_PUSH_SECRET      # the REST Service's password or custom header
"""

from __future__ import annotations

import contextlib
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
    parse_time,
    read_cursor,
    shift_time,
    since_setting,
    source_setting,
    write_cursor,
)
from . import parser
from .client import KoboClient
from .writeback import VALIDATION_STATUSES, write_advisory

__all__ = ["KoboAdapter"]

BUNDLED_MAPPING = Path(__file__).resolve().parent / "mapping.yaml"


class KoboAdapter(Adapter):
    """Submissions of one KoboToolbox form as events."""

    name = "kobotoolbox"

    def __init__(self, *, http: HttpClient, asset_uid: str, mapping: FieldMapping,
                 page_size: int = 100, since: str | None = None,
                 write_mode: str = "validation_status",
                 validation_status: str = "validation_status_on_hold",
                 advisory_field: str | None = None, push_secret: str | None = None,
                 overlap: float = DEFAULT_OVERLAP_SECONDS, source: str | None = None,
                 overwrite_status: bool = False) -> None:
        self.http = http
        self.client = KoboClient(http, asset_uid)
        self.asset_uid = asset_uid
        self.mapping = mapping
        self.page_size = page_size
        self.since = since
        self.write_mode = write_mode
        self.validation_status = validation_status
        self.advisory_field = advisory_field
        self.overwrite_status = overwrite_status
        self._push_secret = push_secret
        self.overlap = overlap
        self._source = source or f"kobotoolbox://{host_of(http.base_url)}/assets/{asset_uid}"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, base_dir: Path,
                    env: Mapping[str, str]) -> KoboAdapter:
        settings = Settings(config, where="kobotoolbox settings", base_dir=base_dir)
        token = settings.secret("token_env", env)
        write = settings.section("write_back")
        mode = write.choice("mode", ("validation_status", "field"), "validation_status")
        field = write.optional_text("field")
        if mode == "field" and field is None:
            raise AdapterConfigError("kobotoolbox settings: write_back: field: name the form "
                                     "question that takes the advisory (mode is field)")
        overwrite = write.values.get("overwrite_status", False)
        if not isinstance(overwrite, bool):
            raise AdapterConfigError(f"kobotoolbox settings: write_back: overwrite_status: "
                                     f"expected true or false, got {overwrite!r}")
        return cls(http=make_client(settings, HeaderAuth("Token", str(token))),
                   asset_uid=settings.text("asset_uid"),
                   mapping=mapping_for(settings, BUNDLED_MAPPING),
                   page_size=settings.integer("page_size", 100, high=1000),
                   since=since_setting(settings, "kobo"), write_mode=mode,
                   validation_status=write.choice("status", VALIDATION_STATUSES,
                                                  "validation_status_on_hold"),
                   advisory_field=field,
                   push_secret=settings.secret("push_secret_env", env, required=False),
                   overlap=overlap_seconds(settings), source=source_setting(settings),
                   overwrite_status=overwrite)

    @property
    def source(self) -> str:
        return self._source

    @property
    def push_secret(self) -> str | None:
        return self._push_secret

    def close(self) -> None:
        self.http.close()

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Batch:
        """A REST Service POST: one submission (JSON export type). Lists are accepted too."""
        records = parser.submissions(json_body(body))
        return self.mapping.map_batch(records, source=self.source, system=self.name)

    def pull(self, cursor: str | None) -> Pulled:
        """Submissions after the cursor's ``_id``, oldest first.

        The query is re-anchored on the last ``_id`` for every page (``start`` stays 0):
        a submission deleted between two pages would shift ``start`` offsets and skip one.
        The cursor also keeps the highest ``_id`` and the latest ``_submission_time`` read,
        from which `rewind` opens the next run's overlap window: first the window (``_id`` up
        to the highest read, submitted within the overlap), then the submissions above it.
        ``_id`` never changes on an edit, so edits are not seen here; see the guide.
        """
        state = read_cursor(cursor)
        # Cursors written before the overlap carry only {"last_id": N}.
        after_id = state["after_id"] if "after_id" in state else state.get("last_id")
        last_id, last_time = state.get("last_id"), state.get("last_time")
        window = state.get("window")
        to_id = window.get("to_id") if isinstance(window, dict) else None
        from_time = window.get("from_time") if isinstance(window, dict) else self.since
        if (window is not None and not (isinstance(window, dict) and isinstance(to_id, int))) \
                or not all(v is None or isinstance(v, int) for v in (after_id, last_id)) \
                or not all(v is None or isinstance(v, str) for v in (last_time, from_time)):
            raise AdapterError(f"not a kobotoolbox cursor: {cursor!r}")
        records, more = self.client.submissions_after(after_id, up_to=to_id, since=from_time,
                                                      limit=self.page_size)
        ids = [r["_id"] for r in records if isinstance(r.get("_id"), int)]
        for record in records:
            stamp = record.get("_submission_time")
            # A time that does not parse is the mapping's to reject, naming the field.
            if isinstance(stamp, str):
                with contextlib.suppress(ValueError):
                    last_time = later(last_time, stamp)
        next_state: dict[str, Any] = {
            "after_id": max([*ids, after_id] if after_id is not None else ids, default=None),
            "last_id": max([*ids, last_id] if last_id is not None else ids, default=None),
            "last_time": last_time}
        if window is not None and more and ids:
            next_state["window"] = window
        elif window is not None:
            # The window is read: go on with the submissions above it, at any time.
            next_state["after_id"] = to_id
            more, ids = True, [to_id]
        batch = self.mapping.map_batch(records, source=self.source, system=self.name)
        return Pulled(batch.events, batch.rejected, batch.ignored,
                      cursor=write_cursor(next_state) if next_state["after_id"] is not None
                      else cursor, more=more and bool(ids))

    def rewind(self, cursor: str) -> str:
        """The overlap: read again every submission up to the highest ``_id`` read whose
        ``_submission_time`` is within `overlap` seconds of the latest read, then go on
        above that ``_id`` as usual.

        KPI gives a submission its ``_id`` and ``_submission_time`` when it inserts the row,
        then saves the attachments, and only then writes the document the data API reads
        (kpi ``kobo/apps/openrosa/libs/utils/logger_tools.py``, ``create_instance``): a
        submission with a lower ``_id`` can become readable after a higher one was read.
        Its ``_submission_time`` is still close to the newest one's, so the window below the
        ``_id`` cursor is chosen by time; above it, every ``_id`` is read whatever its time
        (an import can set an old ``_submission_time``: ``date_created_override``).
        """
        state = read_cursor(cursor)
        last_time, last_id = state.get("last_time"), state.get("last_id")
        if not isinstance(last_time, str) or not isinstance(last_id, int):
            return cursor  # an older cursor without a time: it gains one on the next page
        from_time = shift_time(last_time, self.overlap, "kobo")
        if self.since is not None and parse_time(self.since) > parse_time(from_time):
            from_time = self.since
        return write_cursor({**state, "after_id": None,
                             "window": {"to_id": last_id, "from_time": from_time}})

    def remap(self, record: Mapping[str, Any]) -> Batch:
        return self.mapping.map_batch([record], source=self.source, system=self.name)

    def write_back(self, advisory: Advisory) -> WriteResult:
        if advisory.source != self.source:
            raise AdapterError(f"advisory {advisory.id} is about {advisory.source}, not "
                               f"{self.source}")
        return write_advisory(self.client, advisory, mode=self.write_mode,
                              status=self.validation_status, field=self.advisory_field,
                              overwrite_status=self.overwrite_status)
