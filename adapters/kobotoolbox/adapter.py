"""The KoboToolbox adapter: REST Service pushes, the data API pull, validation-status or
field write-back.

Settings::

    base_url: https://kf.kobotoolbox.org   # or eu.kobotoolbox.org, or your server
    asset_uid: aBc123XyZ                   # the form
    token_env: KOBO_API_TOKEN              # variable holding the API token
    mapping: my-mapping.yaml               # optional: default is the bundled mapping
    page_size: 100                         # 1..1000
    since: "2026-01-01T00:00:00"           # optional: ignore older submissions
    write_back: {mode: validation_status, status: validation_status_on_hold}
                # a status a person set is kept unless overwrite_status: true;
                # or {mode: field, field: advisory}
    push_secret_env: KOBO_PUSH_SECRET      # the REST Service's password or custom header
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mandate_rules import Advisory
from mandate_rules.adapters import (
    Adapter,
    AdapterConfigError,
    AdapterError,
    Batch,
    FieldMapping,
    HeaderAuth,
    HttpClient,
    Pulled,
    Settings,
    WriteResult,
)

from .._shared import host_of, json_body, make_client, mapping_for, read_cursor, write_cursor
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
        self._source = f"kobotoolbox://{host_of(http.base_url)}/assets/{asset_uid}"

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
                   since=settings.optional_text("since"), write_mode=mode,
                   validation_status=write.choice("status", VALIDATION_STATUSES,
                                                  "validation_status_on_hold"),
                   advisory_field=field,
                   push_secret=settings.secret("push_secret_env", env, required=False),
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
        """Submissions after the last ``_id`` read, oldest first.

        The query is re-anchored on the last ``_id`` for every page (``start`` stays 0):
        a submission deleted between two pages would shift ``start`` offsets and skip one.
        ``_id`` never changes on an edit, so edits are not seen here; see the guide.
        """
        state = read_cursor(cursor)
        last_id = state.get("last_id")
        if last_id is not None and not isinstance(last_id, int):
            raise AdapterError(f"not a kobotoolbox cursor: {cursor!r}")
        records, more = self.client.submissions_after(last_id, since=self.since,
                                                      limit=self.page_size)
        ids = [r["_id"] for r in records if isinstance(r.get("_id"), int)]
        next_id = max([*ids, last_id] if last_id is not None else ids, default=None)
        batch = self.mapping.map_batch(records, source=self.source, system=self.name)
        return Pulled(batch.events, batch.rejected, batch.ignored,
                      cursor=write_cursor({"last_id": next_id}) if next_id is not None
                      else cursor, more=more and bool(ids))

    def write_back(self, advisory: Advisory) -> WriteResult:
        if advisory.source != self.source:
            raise AdapterError(f"advisory {advisory.id} is about {advisory.source}, not "
                               f"{self.source}")
        return write_advisory(self.client, advisory, mode=self.write_mode,
                              status=self.validation_status, field=self.advisory_field,
                              overwrite_status=self.overwrite_status)
