"""Declarative field mapping: every problem named with file and line; records mapped, or
rejected with a reason, or ignored; never dropped."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mandate_rules import Event
from mandate_rules._adapters import Ignored, MappingError, Rejected, load_mapping
from mandate_rules.adapters.testing import kobo_submission

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("system", ["kobotoolbox", "primero", "commcare"])
def test_bundled_mappings_load(system: str) -> None:
    mapping = load_mapping(ADAPTERS / system / "mapping.yaml")
    assert mapping.rules
    assert mapping.source_fields


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        record: {id: _id, time: _submission_time}
        country: SOM
        records:
          - type: escort.requets
            fields: {armed: a}
          - type: escort.request
            fields:
              armd: escort/armed
              provider.kind: {field: p, map: {army: national_army}}
              armed: {field: a, mapp: {y: true}}
              vehicles: v
        """)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    shown = [str(p) for p in caught.value.problems]
    assert any(s.startswith(f"{path}:4: unknown-event-type") and "escort.request" in s
               for s in shown), shown
    assert any(s.startswith(f"{path}:8: unknown-field") and "did you mean 'armed'" in s
               for s in shown), shown
    assert any(s.startswith(f"{path}:9: bad-value") and "national_army" in s for s in shown)
    assert any(s.startswith(f"{path}:10: unknown-key") and "'mapp'" in s for s in shown)
    assert any(":11: object-list" not in s for s in shown)
    assert len(shown) >= 4


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "records:\n  - type: [escort.request\n")
    with pytest.raises(MappingError, match=rf"{path}:\d+: yaml-syntax"):
        load_mapping(path)


def test_missing_record_identity_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "country: SOM\nrecords:\n  - type: clock.tick\n")
    with pytest.raises(MappingError, match="missing-record-id"):
        load_mapping(path)


def test_record_that_cannot_be_mapped_is_rejected_with_the_line(tmp_path: Path) -> None:
    mapping = load_mapping(ADAPTERS / "kobotoolbox" / "mapping.yaml")
    outcome = mapping.map_record(kobo_submission(3001, escort__armed="maybe"),
                                 source="kobotoolbox://x/assets/a", system="kobotoolbox")
    assert isinstance(outcome, Rejected)
    assert "armed from escort/armed: 'maybe' is not in the value map" in outcome.reason
    assert "mapping.yaml:" in outcome.reason
    assert outcome.record_id == "3001"
    assert outcome.record["escort/armed"] == "maybe"


def test_schema_violations_reject_the_record(tmp_path: Path) -> None:
    mapping = load_mapping(ADAPTERS / "kobotoolbox" / "mapping.yaml")
    outcome = mapping.map_record(kobo_submission(3001, requester__org_id=None,
                                                 location__country="Somalia"),
                                 source="kobotoolbox://x/assets/a", system="kobotoolbox")
    assert isinstance(outcome, Rejected)
    assert "data.org.id" in outcome.reason
    assert "country" in outcome.reason


def test_conversions_defaults_lists_and_object_lists(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        record: {id: id, version: rev, time: when}
        country: {field: iso3, default: SOM}
        ignore:
          - when: {field: kind, equals: advisory}
            reason: our own write-back
        records:
          - type: movement.request
            when: [{field: kind, in: [move, convoy]}, {field: draft, exists: false}]
            fields:
              org.id: {value: org-1}
              org.kind: {field: org, default: ingo}
              status: {field: state, map: {new: requested}, otherwise: requested}
              low_profile: lp
              route.areas: {field: areas, split: ","}
              window.start: start
              vehicles:
                each: cars
                fields: {id: cars/plate, markings: {field: cars/mark, map: {blue: un}}}
        """)
    mapping = load_mapping(path)
    record = {"id": 7, "rev": "3", "when": "2026-11-20 08:00", "kind": "convoy",
              "state": "odd", "lp": "true", "areas": "SO22,SO23", "start": "2026-11-21T06:00",
              "cars": [{"cars/plate": "UN-1", "cars/mark": "blue"}, {"cars/plate": "C-2"}]}
    event = mapping.map_record(record, source="test://m", system="test")
    assert isinstance(event, Event), event
    assert (event.id, event.subject, event.country) == ("7@3", "7", "SOM")
    assert event.time.isoformat() == "2026-11-20T08:00:00+00:00"
    data = json.loads(json.dumps(event.to_json()["data"]))
    assert data["org"] == {"id": "org-1", "kind": "ingo"}
    assert data["status"] == "requested"
    assert data["low_profile"] is True
    assert data["route"] == {"areas": ["SO22", "SO23"]}
    assert data["window"] == {"start": "2026-11-21T06:00:00Z"}
    assert data["vehicles"] == [{"id": "UN-1", "markings": "un"}, {"id": "C-2"}]
    ignored = mapping.map_record({**record, "kind": "advisory"}, source="test://m",
                                 system="test")
    assert ignored == Ignored("7", "our own write-back")
    unmatched = mapping.map_record({**record, "draft": "y"}, source="test://m", system="test")
    assert isinstance(unmatched, Rejected)
    assert "draft exists False" in unmatched.reason
    batch = mapping.map_batch([record, {**record, "kind": "advisory"}, {**record, "draft": 1}],
                              source="test://m", system="test")
    assert (len(batch.events), len(batch.ignored), len(batch.rejected)) == (1, 1, 1)


def test_a_rule_that_never_fills_a_required_field_is_refused_at_load(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        record: {id: _id, time: _submission_time}
        country: SOM
        records:
          - name: movement request
            type: movement.request
            fields:
              org.id: requester/org_id
              org.kind: {value: ingo}
              route.id: movement/route_id
        """)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    shown = [str(p) for p in caught.value.problems]
    assert shown == [f"{path}:6: missing-required-field: movement request: a movement.request "
                     f"event requires `status`, and no field of this rule fills it: add "
                     f"`status: <source field>` (or `{{value: ...}}`) under `fields`"]


def test_required_common_fields_are_checked_and_filled_ones_pass(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        record: {id: _id, time: _submission_time}
        country: SOM
        records:
          - type: escort.request
            fields: {armed: escort/armed}
        """)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    missing = sorted(str(p).split("requires `")[1].split("`")[0] for p in caught.value.problems)
    assert missing == ["org.id", "org.kind"]
    ok = _write(tmp_path, """\
        record: {id: _id, time: _submission_time}
        country: SOM
        records:
          - type: escort.request
            fields: {armed: escort/armed, org.id: o, org.kind: {value: ingo}}
        """)
    assert load_mapping(ok).rules


def test_lowercase_country_codes_are_normalised(tmp_path: Path) -> None:
    constant = _write(tmp_path, """\
        record: {id: _id, time: _submission_time}
        country: {value: som}
        records:
          - type: escort.request
            fields: {armed: {field: escort/armed, map: {"yes": true, "no": false}},
                     org.id: requester/org_id, org.kind: {value: ingo}}
        """)
    record = kobo_submission(3001)
    event = load_mapping(constant).map_record(record, source="kobotoolbox://x/assets/a",
                                              system="kobotoolbox")
    assert isinstance(event, Event), event
    assert event.country == "SOM"
    bundled = load_mapping(ADAPTERS / "kobotoolbox" / "mapping.yaml")
    from_field = bundled.map_record({**record, "location/country": " ssd"},
                                    source="kobotoolbox://x/assets/a", system="kobotoolbox")
    assert isinstance(from_field, Event), from_field
    assert from_field.country == "SSD"
    wrong = bundled.map_record({**record, "location/country": "somalia"},
                               source="kobotoolbox://x/assets/a", system="kobotoolbox")
    assert isinstance(wrong, Rejected)
    assert "somalia" in wrong.reason
