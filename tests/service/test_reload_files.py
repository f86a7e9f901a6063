"""Rule pack files the loader refuses (a directory named like a pack, a link out of the rules
directory, an empty file, an alias bomb) are problems on reload (422, the running packs stay)
and at start (exit 2, nothing listens), never a server error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mandate_rules._cli import main

from .packs import v1_rules
from .server import Client, Server

pytestmark = pytest.mark.both_backends

BOMB = "pack: p\nrules: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]\n" for n in range(1, 7))
SECRET = "db_password: hunter2\n"


def refused(client: Client) -> list[tuple[str, str]]:
    answer = client.post("/v1/admin/reload")
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "rule-pack-invalid"
    assert "hunter2" not in answer.text
    assert "db_password" not in answer.text
    return [(Path(p["file"]).name, p["code"]) for p in error["problems"]]


def test_reload_refuses_odd_files_with_422_and_keeps_running(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    rules = v1_rules(tmp_path / "rules")
    server = start_server(rules=rules)
    client = server.client()

    (rules / "x.yaml").mkdir()
    assert refused(client) == [("x.yaml", "not-a-file")]
    (rules / "x.yaml").rmdir()

    (tmp_path / "secret.yaml").write_text(SECRET)
    (rules / "linked.yaml").symlink_to(tmp_path / "secret.yaml")
    assert refused(client) == [("linked.yaml", "link-outside")]
    (rules / "linked.yaml").unlink()

    (rules / "empty.yaml").write_text("")
    assert refused(client) == [("empty.yaml", "empty-file")]
    (rules / "empty.yaml").unlink()

    (rules / "bomb.yaml").write_text(BOMB)
    assert refused(client) == [("bomb.yaml", "yaml-too-large")]
    (rules / "bomb.yaml").unlink()

    assert client.get("/readyz").json()["rules_version"]["version"] == "1.0.0"
    assert client.post("/v1/admin/reload").status_code == 200


def test_serve_refuses_to_start_on_a_directory_named_like_a_pack(tmp_path: Path) -> None:
    rules = v1_rules(tmp_path / "rules")
    (rules / "x.yaml").mkdir()
    result = CliRunner().invoke(main, ["serve", "--rules", str(rules), "--db",
                                       str(tmp_path / "e.db")],
                                env={"MANDATE_RULES_TOKENS": ""})
    assert result.exit_code == 2, result.output
    assert "x.yaml:1: not-a-file: " in result.output
    assert "the rule packs were not loaded" in result.output
    assert not (tmp_path / "e.db").exists()
