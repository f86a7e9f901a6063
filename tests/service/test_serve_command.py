"""`mandate-rules serve` refuses a setup it cannot honour, saying why, before listening."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mandate_rules._cli import main

from .packs import BROKEN, v1_rules, write_rules


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["serve", *args], env={"MANDATE_RULES_TOKENS": ""})
    return result.exit_code, result.output


def test_without_tokens_it_will_not_listen_beyond_loopback(tmp_path: Path) -> None:
    code, output = serve("--host", "0.0.0.0", "--db", str(tmp_path / "e.db"))
    assert code == 2
    assert "auth is off" in output
    assert "loopback only" in output
    assert not (tmp_path / "e.db").exists()


def test_invalid_rule_packs_are_listed_and_nothing_starts(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules", BROKEN)
    code, output = serve("--rules", str(rules), "--db", str(tmp_path / "e.db"))
    assert code == 2
    assert "unknown-field" in output
    assert "the rule packs were not loaded" in output


def test_an_unusable_store_is_named(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    code, output = serve("--rules", str(v1_rules(tmp_path / "rules")),
                         "--db", str(tmp_path / "a-file" / "e.db"))
    assert code == 2
    assert output.startswith("store: ")


def test_a_bad_config_file_is_explained(tmp_path: Path) -> None:
    config = tmp_path / "sidecar.toml"
    config.write_text("tick_interval = -1\n")
    code, output = serve("--config", str(config))
    assert code == 2
    assert "tick_interval: expected seconds (0 turns ticks off), got -1" in output
