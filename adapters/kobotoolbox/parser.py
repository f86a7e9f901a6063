"""KoboToolbox payloads: what each shape is, and the submissions in it.

Shapes (see shared/fixtures/external/kobotoolbox/README.md):

* one submission object: a REST Service ("hook") POST, or ``GET .../data/{id}/``;
* the data list ``{count, next, previous, results: [...]}`` (``GET .../data/``);
* a plain JSON array of submissions (exports, older tools);
* formpack's test wrapper ``{version, content, submissions: [...]}`` (not an API shape; its
  ``submissions`` are submission objects).

Older and newer servers differ (``meta/rootUuid``, ``_geolocation``, ``_validation_status``
are missing on older ones; a submission exported without metadata has no ``_id``): every
reader here tolerates both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from mandate_rules.adapters import PayloadError

__all__ = ["SUBMISSION", "SUBMISSION_LIST", "SubmissionMeta", "classify", "meta", "submissions"]

SUBMISSION, SUBMISSION_LIST, SUBMISSION_ARRAY, FORMPACK = (
    "submission", "submission_list", "submission_array", "formpack")


def _is_submission(obj: Any) -> bool:
    return isinstance(obj, Mapping) and any(
        key in obj for key in ("_id", "_uuid", "meta/instanceID", "_submission_time"))


def classify(obj: Any) -> str:
    """The shape of a Kobo payload, or `PayloadError` when it is none of them."""
    if isinstance(obj, Mapping):
        if isinstance(obj.get("results"), list) and "count" in obj:
            return SUBMISSION_LIST
        if isinstance(obj.get("submissions"), list) and "content" in obj:
            return FORMPACK
        if _is_submission(obj):
            return SUBMISSION
    if isinstance(obj, list) and all(_is_submission(item) for item in obj):
        return SUBMISSION_ARRAY
    raise PayloadError("not a KoboToolbox submission, submission list or formpack wrapper")


def submissions(obj: Any) -> list[dict[str, Any]]:
    """The submission objects in any shape `classify` knows."""
    kind = classify(obj)
    if kind == SUBMISSION:
        return [dict(obj)]
    if kind == SUBMISSION_LIST:
        items = obj["results"]
    elif kind == FORMPACK:
        items = obj["submissions"]
    else:
        items = obj
    return [dict(item) for item in items if isinstance(item, Mapping)]


@attrs.frozen
class SubmissionMeta:
    """A submission's identity: `id` (``_id``, else the root uuid or instance id), `version`
    (``meta/instanceID``: an edit gives a new one), `submitted` (``_submission_time``, UTC
    without a zone), `started`/`ended` (the form's ``start``/``end`` questions)."""

    id: str | None
    version: str | None
    root: str | None
    submitted: str | None
    started: str | None
    ended: str | None
    validation_status: str | None


def meta(submission: Mapping[str, Any]) -> SubmissionMeta:
    def text(*keys: str) -> str | None:
        for key in keys:
            value = submission.get(key)
            if value not in (None, ""):
                return str(value)
        return None

    status = submission.get("_validation_status")
    return SubmissionMeta(
        id=text("_id", "meta/rootUuid", "meta/instanceID"),
        version=text("meta/instanceID", "_uuid"),
        root=text("meta/rootUuid", "meta/instanceID"),
        submitted=text("_submission_time"),
        started=text("start"),
        ended=text("end"),
        validation_status=str(status.get("uid")) if isinstance(status, Mapping)
        and status.get("uid") else None,
    )
