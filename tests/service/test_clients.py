"""The shipped Java example, compiled and run with the JDK's defaults against a real server:
its HttpClient offers h2c on every request, and the body must still be read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .server import ROOT, RULES_DIR, Server

pytestmark = pytest.mark.both_backends


@pytest.mark.skipif(shutil.which("javac") is None or shutil.which("java") is None,
                    reason="no JDK (javac, java) on this machine")
def test_the_java_example_posts_an_event_with_the_jdk_defaults(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=RULES_DIR)
    classes = tmp_path / "classes"
    subprocess.run(["javac", "-d", str(classes),
                    str(ROOT / "docs" / "examples" / "Dhis2Sidecar.java")],
                   check=True, timeout=300, capture_output=True)
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["MANDATE_RULES_URL"] = server.url
    run = subprocess.run(["java", "-cp", str(classes), "Dhis2Sidecar"], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    single, batch = (json.loads(line) for line in run.stdout.splitlines())
    assert single["event"]["id"] == "dhis2-evt-Q8kz1-v1"
    assert single["advisories"], single
    # the batch: both events answered in order, each with its advisories
    assert [r["event"]["id"] for r in batch["results"]] == ["dhis2-evt-R2mw7-v1",
                                                            "dhis2-evt-T5hq3-v1"]
    assert all(r["advisories"] and not r["duplicate"] for r in batch["results"]), batch
