"""Screenshots of the console for docs/console.md: the queue, an advisory and the Somalia
operation page with its charts, taken from a real `mandate-rules serve` holding the demo
timeline, in headless Chromium (Debian's `chromium`) driven by Playwright.

    .venv/bin/python scripts/console_screenshots.py [--out docs]

Writes console-queue.png, console-advisory.png and console-operation.png. One advisory is
justified first, so the advisory page shows a resolution in its history.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from mandate_rules._resources import demo_timeline

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    args = parser.parse_args()
    browser_path = shutil.which("chromium")
    if browser_path is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.pop("MANDATE_RULES_TOKENS", None)
        proc = subprocess.Popen(
            [sys.executable, "-c", "from mandate_rules._cli import main; main()", "serve",
             "--db", f"{tmp}/events.db", "--port", str(port), "--no-access-log",
             "--tick-interval", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env=env)
        base = f"http://127.0.0.1:{port}"
        api = requests.Session()
        api.trust_env = False
        try:
            for _ in range(600):
                try:
                    if api.get(base + "/readyz", timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            events = [json.loads(line) for line in demo_timeline().read_text().splitlines()
                      if line.strip()]
            for event in events:  # as an adapter with a record_url would send them
                if event.get("subject"):
                    event["recordurl"] = ("https://primero.example.org/v2/cases/"
                                          + event["subject"])
            api.post(base + "/v1/events", json=events, timeout=60).raise_for_status()
            items = api.get(base + "/v1/advisories", params={"rule": "ESC-001"},
                            timeout=60).json()["items"]
            shown = next(a for a in items if a["severity"] != a["base_severity"])
            api.post(base + f"/v1/advisories/{shown['id']}/resolution", timeout=60,
                     json={"decision": "justified", "by": "Amina Yusuf (CMCoord)",
                           "text": "Only road open; escort approved by the HC."})
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=browser_path, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                for name, path, height in (
                        ("queue", "/ui/", 1000),
                        ("advisory", f"/ui/advisories/{shown['id']}", 1700),
                        ("operation", "/ui/operations/SOM", 2400)):
                    page.set_viewport_size({"width": 1280, "height": height})
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    target = args.out / f"console-{name}.png"
                    page.screenshot(path=str(target))
                    print(f"wrote {target}")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(60)


if __name__ == "__main__":
    main()
