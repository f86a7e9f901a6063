"""The record's web address on each event (`recordurl`), from the `record_url` setting: the
bundled adapters' defaults on the real payloads, an override, no link, and a template checked
when the settings load, each error naming the setting and the file."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mandate_rules._adapters import AdapterConfigError
from mandate_rules._service._receivers import load_connections
from mandate_rules.adapters.testing import (
    COMMCARE_DOMAIN,
    KOBO_ASSET,
    FakeCommCare,
    FakeKobo,
    FakePrimero,
    pull_all,
)

from .conftest import ENV, commcare_settings, kobo_settings, primero_settings
from .derived import FIXTURES

# Every record of a payload as one event, so the real payloads (which are no escort or
# movement requests) give events: the record block is each bundled mapping's own.
_RECORD = {
    "kobotoolbox": "{id: [_id, meta/rootUuid, meta/instanceID], version: [meta/instanceID, "
                   "_uuid], time: [_submission_time, end]}",
    "primero": "{id: [id, record_id], version: last_updated_at, time: [last_updated_at, "
               "created_at]}",
    "commcare": "{id: case_id, version: [server_last_modified, last_modified], "
                "time: [last_modified, server_last_modified, date_opened]}",
}


def _every_record(tmp_path: Path, system: str) -> str:
    path = tmp_path / f"{system}-every-record.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: every record
        country: {{value: SOM}}
        record: {_RECORD[system]}
        records:
          - name: any record
            type: distribution.plan
            fields:
              org.id: {{value: ingo-test}}
              org.kind: {{value: ingo}}
        """))
    return str(path)


def _base(server: FakeKobo | FakePrimero | FakeCommCare) -> str:
    return server.base_url.rstrip("/")


def _events(adapter: Any, name: str) -> list[dict[str, Any]]:
    batch = adapter.parse((FIXTURES / name).read_bytes(), {"Content-Type": "application/json"})
    assert not batch.rejected, batch.rejected
    return [event.to_json() for event in batch.events]


def test_kobotoolbox_submissions_carry_their_data_api_page(
        tmp_path: Path, kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    name = "kobotoolbox/formpack_or_other_data_submissions.json"
    adapter = make_adapter("kobotoolbox", kobo_settings(
        kobo, mapping=_every_record(tmp_path, "kobotoolbox")))
    submissions = json.loads((FIXTURES / name).read_text("utf-8"))
    events = _events(adapter, name)
    assert len(events) == len(submissions) == 7
    for event, submission in zip(events, submissions, strict=True):
        assert event["recordurl"] == (f"{_base(kobo)}/api/v2/assets/{KOBO_ASSET}/data/"
                                      f"{submission['_id']}/")
    # Pulled, the same submissions carry the same addresses.
    kobo.submissions.extend(submissions)
    pulled = [e.to_json() for page in pull_all(adapter) for e in page.events]
    assert {e["subject"]: e["recordurl"] for e in pulled} == \
        {e["subject"]: e["recordurl"] for e in events}


def test_a_primero_case_carries_its_page_in_the_web_application(
        tmp_path: Path, primero: FakePrimero, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(
        primero, mapping=_every_record(tmp_path, "primero")))
    (event,) = _events(adapter, "primero/case_show_response.json")
    case = json.loads((FIXTURES / "primero/case_show_response.json").read_text("utf-8"))
    assert event["recordurl"] == f"{_base(primero)}/v2/cases/{case['data']['id']}"
    incidents = make_adapter("primero", primero_settings(
        primero, record_type="incidents", mapping=_every_record(tmp_path, "primero")))
    listed = json.loads((FIXTURES / "primero/case_incidents_response.json").read_text("utf-8"))
    assert [e["recordurl"] for e in _events(incidents, "primero/case_incidents_response.json")] \
        == [f"{_base(primero)}/v2/incidents/{r['id']}" for r in listed["data"]]


def test_a_commcare_case_carries_its_case_data_page(
        tmp_path: Path, commcare: FakeCommCare, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("commcare", commcare_settings(
        commcare, mapping=_every_record(tmp_path, "commcare")))
    for name in ("commcare/case_v2_single.json", "commcare/repeater_case_json_body.json"):
        case = json.loads((FIXTURES / name).read_text("utf-8"))
        (event,) = _events(adapter, name)
        assert event["recordurl"] == (f"{_base(commcare)}/a/{COMMCARE_DOMAIN}/reports/"
                                      f"case_data/{case['case_id']}/")


def test_record_url_overrides_the_default_and_encodes_the_record_id(
        tmp_path: Path, kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(
        kobo, mapping=_every_record(tmp_path, "kobotoolbox"),
        record_url="https://kobo.example.org/#/forms/{asset_uid}/data/table?id={id}"))
    body = json.dumps({"_id": "a/b?c#d", "_submission_time": "2026-11-20T08:00:00"}).encode()
    (event,) = adapter.parse(body, {}).events
    assert event.to_json()["recordurl"] == \
        f"https://kobo.example.org/#/forms/{KOBO_ASSET}/data/table?id=a%2Fb%3Fc%23d"


def test_record_url_false_gives_no_address(tmp_path: Path, primero: FakePrimero,
                                           make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(
        primero, mapping=_every_record(tmp_path, "primero"), record_url=False))
    (event,) = _events(adapter, "primero/case_show_response.json")
    assert "recordurl" not in event


@pytest.mark.parametrize(("template", "words"), [
    ("{base_url}/records/{record_id}", "unknown placeholder {record_id}; expected some of "
                                       "{asset_uid}, {base_url}, {id}"),
    ("{base_url}/records/{id!r}", "unknown placeholder {id!r}"),
    ("{base_url}/records/{id.__class__}", "unknown placeholder {id.__class__}"),
    ("{base_url}/records/{id", "expected a template such as"),
    ("javascript:alert(1)//{id}", "expected an http(s) address with a host"),
    ("{id}", "expected an http(s) address with a host"),
    ("ftp://files.example.org/{id}", "expected an http(s) address with a host"),
    ("", "expected a non-empty text"),
])
def test_a_bad_record_url_is_refused_naming_the_setting_and_the_file(
        tmp_path: Path, kobo: FakeKobo, template: str, words: str) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(json.dumps({"connections": {"kobo-som": {
        "adapter": "kobotoolbox", **kobo_settings(kobo, record_url=template)}}}))
    with pytest.raises(AdapterConfigError) as caught:
        load_connections(config, ENV, "default")
    message = str(caught.value)
    assert message.startswith(f"{config}: connections: kobo-som: kobotoolbox settings: "
                              f"record_url: ")
    assert words in message
