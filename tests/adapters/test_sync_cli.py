"""`mandate-rules sync ADAPTER --config FILE` end to end against a loopback Kobo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mandate_rules._cli import main
from mandate_rules.adapters.testing import FakeKobo, Reply, kobo_submission

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
    first = _run("kobotoolbox", "--config", config)
    assert first.exit_code == 0, first.output + first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert [e["subject"] for e in events] == ["3001", "3002"]
    assert all(e["type"] == "escort.request" for e in events)
    assert "kobotoolbox: 3 page(s), 9 record(s): 2 new, 0 unchanged, 7 rejected" in first.stderr
    assert "7 record(s) could not be mapped" in first.stderr
    again = _run("kobotoolbox", "--config", config)
    assert again.exit_code == 0
    assert again.stdout == ""
    full = _run("kobotoolbox", "--config", config, "--full", "--quiet")
    assert full.exit_code == 0
    assert full.stdout == ""
    assert full.stderr == ""
    rejected = _run("kobotoolbox", "--config", config, "--rejected")
    kept = [json.loads(line) for line in rejected.stdout.splitlines()]
    assert len(kept) == 7
    assert all("no record rule" in r["reason"] for r in kept)


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
    first = _run("kobotoolbox", "--config", config)
    assert first.exit_code == 3
    assert "run again to resume" in first.stderr
    resumed = _run("kobotoolbox", "--config", config)
    assert resumed.exit_code == 0
    subjects = [json.loads(line)["subject"] for line in first.stdout.splitlines()
                + resumed.stdout.splitlines()]
    assert subjects == ["3001", "3002"]


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


def test_settings_for_another_adapter_are_refused(config: Path) -> None:
    result = _run("primero", "--config", config)
    assert result.exit_code == 2
    assert "for 'kobotoolbox', not 'primero'" in result.stderr
