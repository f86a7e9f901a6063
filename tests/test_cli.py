"""The `mandate-rules` command, run as a new user runs it: a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .helpers import BUNDLE_YAML, RULES_DIR, pack

EXE = shutil.which("mandate-rules") or str(Path(sys.executable).parent / "mandate-rules")

ESCORT = {"specversion": "1.0", "id": "e1", "source": "test://cli", "type": "escort.request",
          "time": "2026-11-01T08:00:00Z", "country": "SOM", "area": "SO-BN", "subject": "esc-1",
          "data": {"org": {"id": "o1", "kind": "ingo"}, "armed": True,
                   "provider": {"kind": "mission_military"}}}


def run(*args: str, stdin: str | None = None, cwd: Path | None = None,
        columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if columns is not None:
        env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd, env=env)


def test_evaluate_prints_one_json_advisory_per_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(ESCORT) + "\n\n" + json.dumps({**ESCORT, "id": "e2"}) + "\n")
    done = run("evaluate", "--rules", str(RULES_DIR), str(events))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"ESC-001", "ESC-004"} <= {a["rule_id"] for a in lines}
    assert all(a["evidence"][0]["id"] in ("e1", "e2") for a in lines)
    assert done.stderr == ""


def test_evaluate_reads_standard_input_and_renders_a_table() -> None:
    done = run("evaluate", "--format", "table", "-", stdin=json.dumps(ESCORT) + "\n")
    assert done.returncode == 0, done.stderr
    assert "ESC-004" in done.stdout
    assert "critical" in done.stdout


def test_invalid_input_names_the_line_and_prints_nothing(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    bad = {**ESCORT, "id": "e2", "data": {**ESCORT["data"], "armed": "maybe"}}
    events.write_text("\n".join([json.dumps(ESCORT), json.dumps(bad), "{oops"]) + "\n")
    done = run("evaluate", str(events))
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"{events}:2: data.armed: expected yes/no" in done.stderr
    assert f"{events}:3: not valid JSON" in done.stderr


def test_parameter_override_from_the_command_line(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps(ESCORT) + "\n")
    assert run("evaluate", "--param", "AST-007.no_such=1", str(events)).returncode == 2
    assert run("evaluate", "--param", "nonsense", str(events)).returncode == 2


def test_check_passes_on_the_shipped_packs() -> None:
    done = run("check", str(RULES_DIR))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: ")


def test_check_lists_problems_and_fails(tmp_path: Path) -> None:
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    pack = tmp_path / "rules" / "escorts.yaml"
    pack.write_text(pack.read_text().replace("severity: warning", "severity: urgent", 1))
    done = run("check", str(tmp_path / "rules"))
    assert done.returncode == 1
    assert "escorts.yaml:" in done.stdout
    assert "bad-severity" in done.stdout
    as_json = json.loads(run("check", str(tmp_path / "rules"), "--format", "json").stdout)
    assert as_json[0]["code"] == "bad-severity"


def test_rules_and_explain() -> None:
    listing = run("rules")
    assert listing.returncode == 0
    assert "ESC-001" in listing.stdout
    assert "AST-009" in listing.stdout
    explained = run("explain", "esc-004")
    assert explained.returncode == 0
    assert explained.stdout.startswith("ESC-004: ")
    assert "References" in explained.stdout
    unknown = run("explain", "ESC-404")
    assert unknown.returncode == 2
    assert "no rule 'ESC-404'" in unknown.stderr


def test_demo_runs_end_to_end() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    assert "30 events" in done.stdout
    assert "critical" in done.stdout
    as_json = [json.loads(line) for line in run("demo", "--format", "json").stdout.splitlines()]
    raised = {a["rule_id"] for a in as_json}
    # the timeline is written to raise every ESC and AST rule at least once
    assert {f"ESC-{i:03d}" for i in range(1, 12)} <= raised
    assert {f"AST-{i:03d}" for i in range(1, 10)} <= raised


def test_the_commands_work_without_the_test_tools() -> None:
    """A plain install has no pytest: the first README command must still run the demo."""
    script = ("import sys\n"
              "for name in ('pytest', 'pytest_bdd', 'hypothesis', '_pytest'):\n"
              "    sys.modules[name] = None\n"
              "from mandate_rules._cli import main\n"
              "main(['demo'], standalone_mode=False)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "advisories (" in done.stdout


def test_check_warns_about_keys_an_event_type_does_not_require(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bundle.yaml").write_text(BUNDLE_YAML)
    rule = """\
  - id: TST-001
    title: repeated trips
    severity: advice
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: repeated
        on: [movement.request]
        when: [status == completed]
        count: {by: [BY], within: 30 days, at_least: 2}
"""
    (rules / "p.yaml").write_text(pack(rule.replace("BY", "route.id")))
    done = run("check", str(rules))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: 1 rules")
    assert done.stdout.rstrip().endswith("; 1 warning(s)")
    assert done.stderr.startswith(f"warning: {rules.name}/p.yaml:11: optional-key: TST-001 "
                                  "'repeated' groups movement.request by route.id, which it "
                                  "does not require")
    (rules / "p.yaml").write_text(pack(rule.replace("BY", "org.id")))  # every event has it
    done = run("check", str(rules))
    assert (done.returncode, done.stderr) == (0, "")


def test_rules_explain_and_check_read_the_rules_folder_being_edited(tmp_path: Path) -> None:
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    pack = tmp_path / "rules" / "escorts.yaml"
    pack.write_text(pack.read_text().replace(
        "title: Escorted movement without debrief", "title: Trip not debriefed"))
    for args in (["rules"], ["explain", "ESC-011"], ["check"]):
        done = run(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith(f"rules: rules{os.sep} (it holds bundle.yaml; "), args
    assert "Trip not debriefed" in run("rules", cwd=tmp_path).stdout
    assert run("explain", "ESC-011", cwd=tmp_path).stdout.startswith(
        "ESC-011: Trip not debriefed")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shipped = run("explain", "ESC-011", cwd=elsewhere)
    assert "(shipped with mandate-rules; --rules DIR for others)" in shipped.stderr
    assert shipped.stdout.startswith("ESC-011: Escorted movement without debrief")
    named = run("rules", "--rules", str(tmp_path / "rules"), cwd=elsewhere)
    assert (named.stderr, "Trip not debriefed" in named.stdout) == ("", True)


def test_the_rules_table_fits_a_100_column_terminal() -> None:
    for columns in (100, 80):
        done = run("rules", columns=columns)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert max(len(line) for line in lines) <= columns, columns
        listed = {line.split()[0] for line in lines[2:] if line[:1].isupper()}
        assert len(listed) == 39
        # a rule on many event types wraps its events and title onto further lines
        assert any(line.startswith(" " * 9) for line in lines)
