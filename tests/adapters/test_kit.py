"""The test kit (`mandate_rules.adapters.testing`) needs no pytest, and its command-line fake
serves records that `mandate-rules sync` reads over a real loopback socket."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mandate_rules._cli import main

# Run in a child interpreter where ``import pytest`` fails, as after a plain ``pip install .``.
_WITHOUT_PYTEST = """
import sys
sys.modules["pytest"] = None  # any import of pytest now raises ImportError
from mandate_rules._adapters import load_adapter_class
import mandate_rules.adapters
assert "mandate_rules.adapters.testing" not in sys.modules, "imported eagerly"
from mandate_rules.adapters.testing import FakeKobo, kobo_submission, pull_all
adapter_class = load_adapter_class("kobotoolbox")
fake = FakeKobo([kobo_submission(3001)])
try:
    adapter = adapter_class.from_config(fake.settings(), base_dir=".", env=dict(fake.env))
    print(len([e for page in pull_all(adapter) for e in page.events]))
finally:
    fake.stop()
try:
    from mandate_rules.adapters.testing import AdapterContract
except ImportError:
    print("contract needs pytest")
"""


def test_adapters_and_fakes_load_without_pytest() -> None:
    result = subprocess.run([sys.executable, "-c", _WITHOUT_PYTEST], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["1", "contract needs pytest"]


@pytest.fixture
def fake_process(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    config = tmp_path / "kobo.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "mandate_rules.adapters.testing", "kobotoolbox", "--port", "0",
         "--config", str(config)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(4)]
        assert lines[0].startswith("# kobotoolbox fake"), lines
        values = dict(line.split("=", 1) for line in lines[1:])
        yield values, config
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_command_line_fake_serves_a_sync(fake_process: tuple[dict[str, str], Path],
                                         tmp_path: Path) -> None:
    values, config = fake_process
    assert values["MANDATE_RULES_FAKE_URL"].startswith("http://127.0.0.1:")
    assert values["MANDATE_RULES_FAKE_CONFIG"] == str(config)
    settings = json.loads(config.read_text())
    assert settings["adapter"] == "kobotoolbox"
    assert settings["base_url"] == values["MANDATE_RULES_FAKE_URL"]
    result = CliRunner().invoke(
        main, ["sync", "kobotoolbox", "--config", str(config), "--state",
               str(tmp_path / "state.sqlite")], env={"KOBO_TOKEN": values["KOBO_TOKEN"]})
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["subject"] for e in events] == ["3001", "3002"]
    assert "2 new, 0 unchanged, 7 rejected" in result.stderr
