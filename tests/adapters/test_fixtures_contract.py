"""Every file under shared/fixtures/external/ is read by the matching parser: record payloads
give their records' id, version and times; the others are classified as the documented
non-record payloads they are (errors, flags, request bodies, ...), never misread as records."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mandate_rules_adapters.commcare import parser as commcare
from mandate_rules_adapters.kobotoolbox import parser as kobo
from mandate_rules_adapters.primero import parser as primero

from mandate_rules._adapters import PayloadError

from .derived import FIXTURES, SHARED_FIXTURES

# file -> (kind, number of records) for every JSON file in the fixtures; a new file must be
# added here, so no fixture goes unread.
EXPECTED: dict[str, tuple[str, int]] = {
    "kobotoolbox/formpack_or_other_data_submissions.json": (kobo.SUBMISSION_ARRAY, 7),
    "kobotoolbox/formpack_nested_grouped_repeatable_v1.json": (kobo.FORMPACK, 2),
    "kobotoolbox/formpack_hxl_grouped_repeatable_v1.json": (kobo.FORMPACK, 6),
    "primero/cases_index_response.json": (primero.RECORD_LIST, 2),
    "primero/case_show_response.json": (primero.RECORD, 1),
    "primero/openfn_primero-progres_case_583069e.json": (primero.RECORD, 1),
    "primero/case_incidents_response.json": (primero.RECORD_LIST, 2),
    "primero/openfn_primero-progres_getPrimeroReferral.json": (primero.RECORD_LIST, 2),
    "primero/cases_index_403_response.json": (primero.ERROR, 0),
    "primero/case_patch_422_response.json": (primero.ERROR, 0),
    "primero/tokens_post_401_response.json": (primero.ERROR, 0),
    "primero/tokens_post_request.json": (primero.LOGIN, 0),
    "primero/case_patch_request.json": (primero.CHANGES, 0),
    "primero/case_patch_response.json": (primero.CHANGES, 0),
    "primero/flag_unflag_request.json": (primero.CHANGES, 0),
    "primero/flag_create_response.json": (primero.FLAG, 0),
    "primero/flag_unflag_response.json": (primero.FLAG, 0),
    "primero/flags_index_response.json": (primero.FLAG_LIST, 0),
    "primero/record_history_response.json": (primero.HISTORY, 0),
    "primero/record_alerts_response.json": (primero.ALERTS, 0),
    "commcare/case_v2_single.json": (commcare.CASE, 1),
    "commcare/case_v2_list_response.json": (commcare.CASE_LIST, 1),
    "commcare/case_v1_list_response.json": (commcare.CASE_LIST_V1, 1),
    "commcare/repeater_case_json_body.json": (commcare.CASE_FORWARD, 1),
    "commcare/form_v1_list_response.json": (commcare.FORM_LIST, 0),
    "commcare/repeater_form_stub.json": (commcare.FORM_STUB, 0),
    "commcare/case_v2_create_update_request.json": (commcare.CASE_REQUEST, 0),
    "commcare/case_v2_bulk_create_temporary_id_request.json": (commcare.CASE_REQUEST, 0),
    "commcare/case_v2_bulk_create_update_upsert_request.json": (commcare.CASE_REQUEST, 0),
    "commcare/case_v2_bulk_fetch_request.json": (commcare.BULK_FETCH, 0),
}

CLASSIFY: dict[str, Callable[[Any], str]] = {
    "kobotoolbox": kobo.classify, "primero": primero.classify, "commcare": commcare.classify}


def _files() -> list[str]:
    return sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*")
                  if p.is_file() and p.name != "README.md")


def test_every_fixture_file_is_listed() -> None:
    assert _files(), f"no fixtures found under {FIXTURES}"
    assert set(_files()) == set(EXPECTED), "fixtures and the table above differ"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parser_classifies_fixture(name: str) -> None:
    system = name.split("/", maxsplit=1)[0]
    obj = json.loads((FIXTURES / name).read_text("utf-8"))
    assert CLASSIFY[system](obj) == EXPECTED[name][0]


def _kobo_records(obj: Any) -> list[tuple[str | None, str | None, str | None]]:
    found = []
    for sub in kobo.submissions(obj):
        meta = kobo.meta(sub)
        found.append((meta.id, meta.version, meta.submitted or meta.ended))
    return found


def _primero_records(obj: Any) -> list[tuple[str | None, str | None, str | None]]:
    return [(m.id, m.version, m.updated or m.created)
            for m in map(primero.meta, primero.records(obj))]


def _commcare_records(obj: Any) -> list[tuple[str | None, str | None, str | None]]:
    return [(c["case_id"], c.get("server_last_modified"), c.get("last_modified"))
            for c in commcare.records(obj)]


RECORDS = {"kobotoolbox": _kobo_records, "primero": _primero_records,
           "commcare": _commcare_records}


@pytest.mark.parametrize("name", sorted(n for n, (_, count) in EXPECTED.items() if count))
def test_record_fixtures_give_id_version_and_time(name: str) -> None:
    system = name.split("/", maxsplit=1)[0]
    obj = json.loads((FIXTURES / name).read_text("utf-8"))
    found = RECORDS[system](obj)
    assert len(found) == EXPECTED[name][1]
    for ident, _version, when in found:
        assert ident, f"{name}: a record without an id"
        assert when, f"{name}: record {ident} without a time"
    assert len({i for i, _, _ in found}) == len(found), f"{name}: ids are not unique"


@pytest.mark.parametrize("name", sorted(n for n, (_, count) in EXPECTED.items() if not count))
def test_non_record_fixtures_hold_no_record(name: str) -> None:
    system = name.split("/", maxsplit=1)[0]
    obj = json.loads((FIXTURES / name).read_text("utf-8"))
    reader = {"kobotoolbox": kobo.submissions, "primero": primero.records,
              "commcare": commcare.records}[system]
    with pytest.raises(PayloadError):
        reader(obj)


def test_specific_values_are_extracted() -> None:
    """Spot checks that the readers take the right fields, not just any."""
    kobo_obj = json.loads((FIXTURES / "kobotoolbox/formpack_or_other_data_submissions.json")
                          .read_text("utf-8"))
    assert _kobo_records(kobo_obj)[0] == ("2972568",
                                          "uuid:53289e78-e7e7-493b-bf30-3e86144fd13d",
                                          "2017-03-14T20:20:57")
    hxl = json.loads((FIXTURES / "kobotoolbox/formpack_hxl_grouped_repeatable_v1.json")
                     .read_text("utf-8"))
    # No `_id` or `_submission_time` in that export: the instance id and the `end` answer.
    assert _kobo_records(hxl)[0] == ("uuid:91ab8237-92b1-4a10-929f-45af2bb141c0",
                                     "uuid:91ab8237-92b1-4a10-929f-45af2bb141c0",
                                     "2016-03-14T14:18:35.000-04:00")
    nested = json.loads((FIXTURES / "kobotoolbox/formpack_nested_grouped_repeatable_v1.json")
                        .read_text("utf-8"))
    assert kobo.meta(kobo.submissions(nested)[1]).validation_status == \
        "validation_status_not_approved"
    openfn = json.loads((FIXTURES / "primero/openfn_primero-progres_case_583069e.json")
                        .read_text("utf-8"))
    assert _primero_records(openfn) == [("757f3dd3-c4ca-4e18-be60-19054d848dfe",
                                         "2021-05-26T15:54:21.741Z",
                                         "2021-05-26T15:54:21.741Z")]
    forward = commcare.records(json.loads(
        (FIXTURES / "commcare/repeater_case_json_body.json").read_text("utf-8")))[0]
    assert (forward["case_type"], forward["case_name"], forward["server_last_modified"]) == (
        "mscase", "Trees", "2012-04-05T23:56:41Z")
    assert "case_type" not in forward["properties"]
    flags = primero.flag_messages(json.loads(
        (FIXTURES / "primero/flags_index_response.json").read_text("utf-8")))
    assert flags[2] == (5, "Adding new flag", True)
    stub = json.loads((FIXTURES / "commcare/repeater_form_stub.json").read_text("utf-8"))
    assert commcare.form_case_ids(stub) == ["b0916685-7247-4c44-b712-633d3d64e0c0"]
    forms = json.loads((FIXTURES / "commcare/form_v1_list_response.json").read_text("utf-8"))
    assert commcare.form_case_ids(forms["objects"][0]) == ["b6996b7b-6b3f-476a-9006"]


def test_fixture_folder_is_the_shared_one() -> None:
    assert Path(FIXTURES).name == "external"
    assert (FIXTURES / "README.md").is_file()


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason="../shared is not beside this checkout")
def test_the_copied_fixtures_are_verbatim() -> None:
    """The repository's copy of the shared payloads is byte for byte the shared one."""
    shared = {p.relative_to(SHARED_FIXTURES): p.read_bytes()
              for p in SHARED_FIXTURES.rglob("*") if p.is_file()}
    copied = {p.relative_to(FIXTURES): p.read_bytes() for p in FIXTURES.rglob("*") if p.is_file()}
    assert copied == shared
