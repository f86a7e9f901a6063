"""`mandate-rules outbox ADAPTER --config FILE`: the write-backs a source refused are kept as
dead, listed with the source's message, and written once put back by hand."""

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
    kobo.submissions.append(kobo_submission(3001))
    path = tmp_path / "kobo.yaml"
    path.write_text(json.dumps({"adapter": "kobotoolbox", **kobo_settings(kobo)}))
    return path


def _run(*args: Any) -> Any:
    return CliRunner().invoke(main, list(map(str, args)))


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_refused_write_backs_are_dead_listed_and_retried_by_hand(config: Path,
                                                                 kobo: FakeKobo) -> None:
    # The submission was deleted in Kobo meanwhile: every write-back is a 404 (KPI's
    # `{"detail": "Not found."}`), which no retry changes.
    kobo.fail(Reply.json(404, {"detail": "Not found."}), when=lambda s: s.method == "PATCH",
              times=1000)
    synced = _run("sync", "kobotoolbox", "--config", config, "--evaluate", "--write-back")
    assert synced.exit_code == 0, synced.output + synced.stderr
    raised = len(_lines(synced.stdout))
    assert raised >= 1
    assert f"0 written, 0 failed, 0 waiting (retried on the next run), {raised} refused" \
        in synced.stderr
    patches = sum(1 for r in kobo.requests if r.method == "PATCH")
    assert patches == raised  # one attempt each: a 404 is not retried
    again = _run("sync", "kobotoolbox", "--config", config, "--evaluate", "--write-back")
    assert again.exit_code == 0
    assert sum(1 for r in kobo.requests if r.method == "PATCH") == patches

    dead = _run("outbox", "kobotoolbox", "--config", config, "--dead")
    assert dead.exit_code == 0, dead.output
    rows = _lines(dead.stdout)
    assert len(rows) == raised
    assert all(r["status"] == "dead" and r["subject"] == "3001" for r in rows)
    assert all("404" in r["last_error"] and "Not found." in r["last_error"] for r in rows)

    missing = _run("outbox", "kobotoolbox", "--config", config, "--retry", "--advisory", "nope")
    assert missing.exit_code == 2
    assert "no dead write-back of advisory 'nope'" in missing.stderr

    kobo.failures.clear()  # the submission is back (restored by its owner)
    retried = _run("outbox", "kobotoolbox", "--config", config, "--retry")
    assert retried.exit_code == 0, retried.output + retried.stderr
    assert f"{raised} put back; write-back: {raised} written, 0 failed" in retried.stderr
    assert kobo.statuses == {"3001": "validation_status_on_hold"}
    assert _run("outbox", "kobotoolbox", "--config", config, "--dead").stdout == ""
    done = _lines(_run("outbox", "kobotoolbox", "--config", config).stdout)
    assert [r["status"] for r in done] == ["done"] * raised
    assert all(r["attempts"] == 2 for r in done)
    nothing = _run("outbox", "kobotoolbox", "--config", config, "--retry")
    assert "0 put back" in nothing.stderr


def test_a_retried_write_back_refused_again_exits_3(config: Path, kobo: FakeKobo) -> None:
    kobo.fail(Reply.json(404, {"detail": "Not found."}), when=lambda s: s.method == "PATCH",
              times=1000)
    assert _run("sync", "kobotoolbox", "--config", config, "--evaluate",
                "--write-back").exit_code == 0
    retried = _run("outbox", "kobotoolbox", "--config", config, "--retry")
    assert retried.exit_code == 3
    assert "refused again" in retried.stderr
    assert "--dead" in retried.stderr
