"""One `serve` per database file: a second refuses to start, naming the file and the pid of
the one running; a killed server does not block the next; a URL is not taken for a file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .packs import escort, v1_rules
from .server import Server


def test_a_second_server_on_the_same_database_refuses_to_start(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    rules = v1_rules(tmp_path / "rules")
    db = tmp_path / "shared.db"
    first = start_server(rules=rules, db=db)
    assert first.proc is not None
    second = Server(tmp_path / "second", db=db, rules=rules)
    second.workdir.mkdir()
    second.port = 0
    proc = subprocess.run(second.command(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2, proc.stderr
    assert str(db.resolve()) in proc.stderr
    assert f"pid {first.proc.pid}" in proc.stderr
    assert "in use by another mandate-rules serve" in proc.stderr
    # The first one is untouched and still serves.
    assert first.client().events(escort()).status_code == 200


def test_a_killed_server_does_not_block_the_next_start(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "rules"))
    stored = server.client().events(escort(id="kept-1")).json()
    server.kill()
    assert (server.db.parent / (server.db.name + ".lock")).exists()
    server.start()
    again = server.client().events(escort(id="kept-1")).json()
    assert again["duplicate"] is True
    assert again["advisories"] == stored["advisories"]


def serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`serve` in a subprocess, so that a server that does start is stopped by the timeout."""
    return subprocess.run([sys.executable, "-c", "from mandate_rules._cli import main; main()",
                           "serve", "--port", "0", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False,
                          env={**os.environ, "MANDATE_RULES_TOKENS": ""})


@pytest.mark.parametrize("url", ["sqlite:///var/lib/events.db", "mysql://u@127.0.0.1/db"])
def test_a_url_of_another_database_is_refused_not_made_a_file(tmp_path: Path, url: str) -> None:
    scheme = url.split("://", maxsplit=1)[0]
    flag = serve("--db", url, cwd=tmp_path)
    assert flag.returncode == 2
    assert (f"config: --db: expected a SQLite file path or a postgresql:// URL, got a "
            f"{scheme}:// URL") in flag.stderr
    config = tmp_path / "sidecar.yaml"
    config.write_text(f"db: {url}\n")
    in_file = serve("--config", str(config), cwd=tmp_path)
    assert in_file.returncode == 2
    assert f"config: {config}: db: expected a SQLite file path" in in_file.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sidecar.yaml"]


def test_a_postgresql_server_that_does_not_answer_stops_serve_without_showing_the_password(
        tmp_path: Path) -> None:
    """Port 1 on loopback: refused at once. Nothing is created, and the password in the URL
    is never printed."""
    flag = serve("--db", "postgresql://mandate:s3cret-pw@127.0.0.1:1/mandate", cwd=tmp_path)
    assert flag.returncode == 2
    assert "store: postgresql://mandate:***@127.0.0.1:1/mandate: cannot connect" in flag.stderr
    assert "s3cret-pw" not in flag.stderr + flag.stdout
    assert list(tmp_path.iterdir()) == []
