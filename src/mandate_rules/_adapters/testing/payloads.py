"""The payloads the loopback fakes serve: the real ones, verbatim, and the derived ones
(labelled, see derived/README.md) where no public example exists.

The real payloads are the repository's tests/fixtures/external (a verbatim copy of the
shared research fixtures). A wheel carries them inside this package (``external/``); a source
checkout reads them where they are.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "DERIVED",
    "INFO_SHARE",
    "commcare_case",
    "external_fixtures_dir",
    "fixture",
    "fixture_bytes",
    "kobo_submission",
    "primero_case",
    "primero_webhook",
]

_HERE = Path(__file__).resolve().parent
DERIVED = _HERE / "derived"


@cache
def external_fixtures_dir() -> Path:
    """The folder of real payloads: in the wheel, or (source checkout) tests/fixtures/external."""
    packaged = _HERE / "external"
    if packaged.is_dir():
        return packaged
    for parent in _HERE.parents:
        candidate = parent / "tests" / "fixtures" / "external"
        if (candidate / "README.md").is_file():
            return candidate
    raise FileNotFoundError("the source systems' example payloads are missing from this "
                            "installation (expected mandate_rules/_adapters/testing/external)")


def fixture(system: str, name: str) -> Any:
    """A real payload of `system`, parsed."""
    return json.loads((external_fixtures_dir() / system / name).read_text("utf-8"))


def fixture_bytes(system: str, name: str) -> bytes:
    """A real payload of `system`, as the bytes the source sent."""
    return (external_fixtures_dir() / system / name).read_bytes()


def kobo_submission(number: int = 3001, *, submitted: str = "2026-11-20T04:52:44",
                    **answers: Any) -> dict[str, Any]:
    """An escort-request submission with `_id` `number` (answers override by key; ``__`` in a
    keyword stands for the ``/`` of a group path)."""
    base = json.loads((DERIVED / "kobotoolbox_escort_submission.json").read_text("utf-8"))
    ident = str(uuid.UUID(int=number))
    base.update({"_id": number, "_uuid": ident, "meta/instanceID": f"uuid:{ident}",
                 "meta/rootUuid": f"uuid:{ident}", "_submission_time": submitted})
    base.update({k.replace("__", "/"): v for k, v in answers.items()})
    return dict(base)


INFO_SHARE: Mapping[str, Any] = MappingProxyType({
    "info_share_direction": "outgoing",
    "info_share_counterparty": "peacekeepers",
    "info_share_counterparty_id": "Sector East J2",
    "info_share_categories": ["personal_data", "locations"],
    "info_share_granularity": "individual",
    "info_share_purpose": "military_planning",
    "info_share_country": "SSD",
})


def primero_case(number: int, updated: str, **fields: Any) -> dict[str, Any]:
    """The OpenFn case with a new id and update time, carrying an information-sharing request."""
    case = copy.deepcopy(fixture("primero", "openfn_primero-progres_case_583069e.json"))
    case.update(copy.deepcopy(dict(INFO_SHARE)))  # each case its own list of categories
    case.update({"id": str(uuid.UUID(int=number)), "last_updated_at": updated})
    case.update(fields)
    return dict(case)


def primero_webhook(case: dict[str, Any], hostname: str = "primero.example.org") -> bytes:
    """The webhook body Primero would POST for `case` (see the fixtures README)."""
    data = {"record_id": case["id"], "record_type": "case", "hostname": hostname}
    data.update({k: v for k, v in case.items() if k != "id"})
    return json.dumps({"data": data}).encode("utf-8")


def commcare_case(number: int, indexed_on: str, **properties: Any) -> dict[str, Any]:
    """The v2 single-case fixture as a movement request."""
    case = copy.deepcopy(fixture("commcare", "case_v2_single.json"))
    props = {"org_id": "ngo-342", "org_type": "ingo", "country": "SOM", "admin1": "SO22",
             "mode": "road", "route_id": "MSR-BAI-03", "origin": "Baidoa", "destination": "Dinsoor",
             "window_start": "2026-11-22", "escort_requested": "yes",
             "transport_provider": "own_fleet", "request_status": "requested"}
    props.update(properties)
    case.update({"case_id": str(uuid.UUID(int=number)), "case_type": "movement_request",
                 "case_name": f"Movement request {number}", "indexed_on": indexed_on,
                 "server_last_modified": indexed_on, "last_modified": indexed_on,
                 "properties": props, "indices": {}})
    return dict(case)
