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
    record_url: "{base_url}/api/v2/assets/{asset_uid}/data/{id}/"
        # optional: a submission's web address, shown as a link in the console; this is the
        # default (KPI opens a submission in a dialog that has no address of its own, so the
        # default is the submission's page of the data API, which a signed-in user reads in
        # the browser); placeholders {base_url}, {asset_uid}, {id} (the submission's _id);
        # false: no link
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from requests.auth import AuthBase

from mandate_rules.adapters import (
    AdapterConfigError,
    AdapterError,
    Advisory,
    Batch,
    HeaderAuth,
    HttpClient,
    Pulled,
    Settings,
    SourceAdapter,
    SourceSettings,
    WriteResult,
    parse_source_time,
)

from .._shared import json_body, later, read_cursor, shift_time, since_text, write_cursor
from . import parser
from .client import KoboClient
from .writeback import VALIDATION_STATUSES, write_advisory

__all__ = ["KoboAdapter"]


class KoboAdapter(SourceAdapter):
    """Submissions of one KoboToolbox form as events."""

    name = "kobotoolbox"
    bundled_mapping = Path(__file__).resolve().parent / "mapping.yaml"
    record_noun = "submission"
    default_record_url = "{base_url}/api/v2/assets/{asset_uid}/data/{id}/"
    record_url_names = ("base_url", "asset_uid", "id")

    def __init__(self, common: SourceSettings, http: HttpClient, *, asset_uid: str,
                 write_mode: str = "validation_status",
                 validation_status: str = "validation_status_on_hold",
                 advisory_field: str | None = None, overwrite_status: bool = False) -> None:
        super().__init__(common, http)
        self.client = KoboClient(http, asset_uid)
        self.asset_uid = asset_uid
        self.since = since_text(common.since, "kobo")
        self.write_mode = write_mode
        self.validation_status = validation_status
        self.advisory_field = advisory_field
        self.overwrite_status = overwrite_status

    def default_source(self) -> str:
        return f"kobotoolbox://{self.host}/assets/{self.asset_uid}"

    def record_url_values(self, record_id: str) -> dict[str, str]:
        return {**super().record_url_values(record_id), "asset_uid": self.asset_uid}

    @classmethod
    def auth(cls, settings: Settings, env: Mapping[str, str]) -> AuthBase:
        return HeaderAuth("Token", str(settings.secret("token_env", env)))

    @classmethod
    def from_settings(cls, settings: Settings, common: SourceSettings,
                      http: HttpClient) -> KoboAdapter:
        write = settings.section("write_back")
        mode = write.choice("mode", ("validation_status", "field"), "validation_status")
        field = write.optional_text("field")
        if mode == "field" and field is None:
            raise AdapterConfigError(f"{write.where}: field: name the form question that takes "
                                     f"the advisory (mode is field)")
        return cls(common, http, asset_uid=settings.text("asset_uid"), write_mode=mode,
                   validation_status=write.choice("status", VALIDATION_STATUSES,
                                                  "validation_status_on_hold"),
                   advisory_field=field, overwrite_status=write.flag("overwrite_status"))

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Batch:
        """A REST Service POST: one submission (JSON export type). Lists are accepted too."""
        return self.map_records(parser.submissions(json_body(body)))

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
        batch = self.map_records(records)
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
        if self.since is not None and parse_source_time(self.since) > \
                parse_source_time(from_time):
            from_time = self.since
        return write_cursor({**state, "after_id": None,
                             "window": {"to_id": last_id, "from_time": from_time}})

    def write(self, advisory: Advisory, record_id: str) -> WriteResult:
        return write_advisory(self.client, advisory, record_id, mode=self.write_mode,
                              status=self.validation_status, field=self.advisory_field,
                              overwrite_status=self.overwrite_status)
