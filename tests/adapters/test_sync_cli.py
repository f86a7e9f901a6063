"""`mandate-rules sync ADAPTER --config FILE` end to end against a loopback Kobo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mandate_rules._cli import main
from mandate_rules.adapters.testing import FakeKobo, Reply, kobo_submission

from ..helpers import ROOT
from .conftest import ENV, kobo_settings


@pytest.fixture
def config(tmp_path: Path, kobo: FakeKobo, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    kobo.submissions.extend([kobo_submission(3001),
                             kobo_submission(3002, escort__alternatives="negotiation")])
    path = tmp_path / "kobo.yaml"
    # JSON is YAML: the settings file as an IT team would write it.
    path.write_text(json.dumps({"adapter": "kobotoolbox", **kobo_settings(kobo)}, indent=2))
    return path


def _run(*args: Any) -> Any:
    return CliRunner().invoke(main, ["sync", *map(str, args)])


def test_sync_prints_new_events_and_progress(config: Path, kobo: FakeKobo) -> None:
    state = config.with_suffix(".state.sqlite")
    first = _run("kobotoolbox", "--config", config)
    assert first.exit_code == 0, first.output + first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert [e["subject"] for e in events] == ["3001", "3002"]
    assert all(e["type"] == "escort.request" for e in events)
    assert "kobotoolbox: 3 page(s), 9 record(s): 2 new, 0 unchanged, 7 rejected" in first.stderr
    assert first.stderr.count("could not be mapped: no record rule") == 7
    assert f"a look: {state} was not changed" in first.stderr
    assert not state.exists()
    again = _run("kobotoolbox", "--config", config)  # a look takes nothing: the same again
    assert again.stdout == first.stdout
    taken = _run("kobotoolbox", "--config", config, "--evaluate", "--quiet")
    assert taken.exit_code == 0, taken.stderr
    assert taken.stdout
    after = _run("kobotoolbox", "--config", config)
    assert after.exit_code == 0
    assert after.stdout == ""  # --evaluate took them
    full = _run("kobotoolbox", "--config", config, "--full", "--quiet")
    assert full.exit_code == 0
    assert full.stdout == ""
    assert full.stderr == ""
    rejected = _run("kobotoolbox", "--config", config, "--rejected")
    kept = [json.loads(line) for line in rejected.stdout.splitlines()]
    assert len(kept) == 7
    assert all("no record rule" in r["reason"] for r in kept)


def test_a_look_first_leaves_the_records_to_evaluate(config: Path, kobo: FakeKobo) -> None:
    # A new user's first plain run must not use up the records of their first --evaluate.
    assert _run("kobotoolbox", "--config", config).exit_code == 0
    looked = _run("kobotoolbox", "--config", config, "--evaluate", "--dry-run")
    assert looked.exit_code == 0, looked.stderr
    advisories = [json.loads(line)["rule_id"] for line in looked.stdout.splitlines()]
    assert "ESC-001" in advisories
    assert not config.with_suffix(".state.sqlite").exists()
    evaluated = _run("kobotoolbox", "--config", config, "--evaluate", "--quiet")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert [json.loads(line)["rule_id"] for line in evaluated.stdout.splitlines()] == advisories
    again = _run("kobotoolbox", "--config", config, "--evaluate", "--dry-run")
    assert again.stdout == ""  # a dry run reads the state: nothing new since
    assert "was not changed" in again.stderr


def test_dry_run_refuses_write_back(config: Path) -> None:
    result = _run("kobotoolbox", "--config", config, "--evaluate", "--dry-run", "--write-back")
    assert result.exit_code == 2
    assert "--dry-run changes nothing" in result.stderr


def test_sync_evaluates_and_writes_back_once(config: Path, kobo: FakeKobo) -> None:
    # The first write-back fails on every attempt of its HTTP retries.
    kobo.fail(Reply.json(502, {"detail": "gateway"}), when=lambda s: s.method == "PATCH",
              times=4)
    first = _run("kobotoolbox", "--config", config, "--evaluate", "--write-back")
    assert first.exit_code == 0, first.stderr
    advisories = [json.loads(line) for line in first.stdout.splitlines()]
    assert [a["subject"] for a in advisories if a["rule_id"] == "ESC-001"] == ["3001"]
    count = len(advisories)  # 3002 documented negotiation, so no ESC-001 there
    assert f"{count - 1} written, 1 failed, 1 waiting" in first.stderr

    def successes() -> int:
        return sum(1 for r in kobo.requests if r.method == "PATCH") - 4

    # One status per submission: the later advisories on it find it set and send nothing.
    assert successes() == 2
    second = _run("kobotoolbox", "--config", config, "--evaluate", "--write-back", "--full")
    assert second.exit_code == 0, second.stderr
    assert second.stdout == ""  # nothing changed in the source: no new advisory
    assert "1 written, 0 failed, 0 waiting" in second.stderr
    assert successes() == 2  # the retried advisory found the status set
    third = _run("kobotoolbox", "--config", config, "--evaluate", "--write-back")
    assert third.exit_code == 0
    assert successes() == 2
    assert kobo.statuses == {"3001": "validation_status_on_hold",
                             "3002": "validation_status_on_hold"}


def test_source_down_exits_3_and_resumes(config: Path, kobo: FakeKobo) -> None:
    kobo.fail(Reply(503, b""), when=lambda s: "query" in s.query, times=4)
    first = _run("kobotoolbox", "--config", config, "--evaluate")
    assert first.exit_code == 3
    assert "run again to resume" in first.stderr
    resumed = _run("kobotoolbox", "--config", config, "--evaluate")
    assert resumed.exit_code == 0
    subjects = [json.loads(line)["subject"] for line in first.stdout.splitlines()
                + resumed.stdout.splitlines()]
    assert sorted(set(subjects)) == ["3001", "3002"]
    assert len(first.stdout.splitlines()) + len(resumed.stdout.splitlines()) == len(
        _run("kobotoolbox", "--config", config, "--evaluate", "--dry-run", "--full",
             "--state", config.with_suffix(".other.sqlite")).stdout.splitlines())


def test_a_look_that_stops_says_nothing_was_kept(config: Path, kobo: FakeKobo) -> None:
    kobo.fail(Reply(503, b""), when=lambda s: "query" in s.query, times=4)
    result = _run("kobotoolbox", "--config", config)
    assert result.exit_code == 3
    assert "nothing was kept (a look)" in result.stderr


def test_bad_mapping_is_reported_with_file_and_line(config: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("record: {id: _id, time: t}\ncountry: SOM\nrecords:\n"
                       "  - type: escort.request\n    fields: {armd: a}\n")
    settings = json.loads(config.read_text())
    settings["mapping"] = "bad.yaml"
    config.write_text(json.dumps(settings))
    result = _run("kobotoolbox", "--config", config)
    assert result.exit_code == 2
    assert f"{mapping}:5: unknown-field" in result.stderr


def test_a_base_url_that_is_not_http_is_a_settings_error(config: Path) -> None:
    # It was a ValueError from the HTTP client, outside MandateRulesError: a traceback.
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "base_url": "ftp://kobo.example.org/"}))
    result = _run("kobotoolbox", "--config", config)
    assert result.exit_code == 2
    assert f"{config}: kobotoolbox settings: base_url: expected the source's http(s) address" \
        in result.stderr
    assert "'ftp://kobo.example.org/'" in result.stderr


def test_settings_for_another_adapter_are_refused(config: Path) -> None:
    result = _run("primero", "--config", config)
    assert result.exit_code == 2
    assert "for 'kobotoolbox', not 'primero'" in result.stderr


def test_a_fixed_mapping_brings_rejected_records_back(config: Path, tmp_path: Path) -> None:
    bundled = (ROOT / "adapters" / "kobotoolbox" / "mapping.yaml").read_text("utf-8")
    mapping = tmp_path / "mapping.yaml"
    # A typo in the escort rule: every escort request is rejected.
    mapping.write_text(bundled.replace("equals: escort}", "equals: escrot}"), "utf-8")
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "mapping": "mapping.yaml"}))
    broken = _run("kobotoolbox", "--config", config, "--evaluate", "--quiet")
    assert broken.exit_code == 0, broken.stderr
    assert not any(json.loads(line)["subject"] == "3001" for line in broken.stdout.splitlines())
    listed = _run("kobotoolbox", "--config", config, "--rejected").stdout.splitlines()
    assert {json.loads(line)["record_id"] for line in listed} >= {"3001", "3002"}

    mapping.write_text(bundled, "utf-8")  # fixed; no --full
    fixed = _run("kobotoolbox", "--config", config, "--evaluate")
    assert fixed.exit_code == 0, fixed.stderr
    assert "2 record(s) kept as rejected map with the current mapping" in fixed.stderr
    assert "ESC-001" in {json.loads(line)["rule_id"] for line in fixed.stdout.splitlines()
                         if json.loads(line)["subject"] == "3001"}
    still = [json.loads(line) for line in
             _run("kobotoolbox", "--config", config, "--rejected").stdout.splitlines()]
    assert len(still) == 7  # the other form's submissions: they never map
    assert {r["record_id"] for r in still}.isdisjoint({"3001", "3002"})
    again = _run("kobotoolbox", "--config", config, "--evaluate", "--quiet")
    assert again.stdout == ""  # recovered once, not on every run


def test_rejected_lists_todays_reason(config: Path, tmp_path: Path) -> None:
    bundled = (ROOT / "adapters" / "kobotoolbox" / "mapping.yaml").read_text("utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(bundled.replace("equals: escort}", "equals: escrot}"), "utf-8")
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "mapping": "mapping.yaml"}))
    assert _run("kobotoolbox", "--config", config, "--evaluate", "--quiet").exit_code == 0
    mapping.write_text(bundled.replace("equals: escort}", "equals: escorted}"), "utf-8")
    listed = [json.loads(line) for line in
              _run("kobotoolbox", "--config", config, "--rejected").stdout.splitlines()]
    reasons = {r["reason"] for r in listed if r["record_id"] == "3001"}
    assert len(reasons) == 1
    assert "escorted" in reasons.pop()
