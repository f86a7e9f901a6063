"""The console's queue page with 10,000 stored advisories: how long it takes to render and
how much it weighs, on loopback.

A seeded stream of events (`benchmarks.stream`, the shipped catalogue), each carrying its
record's web address (`recordurl`, so every row shows its link), goes through an
in-process `Worker` into a real SQLite file until it holds at least `--advisories`
advisories; then a real `mandate-rules serve` serves that file (auth off, loopback) and the
queue is fetched as a browser would, with keep-alive: the first page (the one people see),
a middle and the last page, and a filtered first page. Each figure is the median and the
95th percentile of `--runs` fetches after two warm-ups, from the request sent to the last
byte read; the weight is the page's HTML plus the one stylesheet it loads (the queue loads
no script). The issue's bounds: under 300 ms and under 200 KB.

Run from the repository root (the benchmark extras are not needed):

    PYTHONPATH=. .venv/bin/python benchmarks/console.py [--advisories 10000] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from benchmarks._common import catalogue
from benchmarks.stream import EventStream, StreamConfig
from mandate_rules import Event
from mandate_rules._service._jobs import Submit
from mandate_rules._service._metrics import Metrics
from mandate_rules._service._store import Store
from mandate_rules._service._worker import Worker

STREAM = StreamConfig(seed=14, operations=12, ticks=0.0)
TENANT = "default"
LIMIT_MS, LIMIT_KB = 300.0, 200.0


def fill(db: Path, advisories: int) -> tuple[int, int]:
    """Store events until `db` holds at least `advisories` advisories; (events, advisories)."""
    bundle = catalogue()
    stream = EventStream(bundle, STREAM)
    store = Store(db)
    worker = Worker(store, Metrics(), [TENANT], queue_limit=1000, snapshot_every=0)
    worker.start(bundle, None).result(300)
    events = stored = 0
    try:
        while stored < advisories:
            batch = tuple(Event.from_json(with_address(next(stream))) for _ in range(200))
            worker.submit(Submit(tenant=TENANT, events=batch, batch=True)).result(300)
            events += len(batch)
            stored = store._reader().execute(
                "SELECT count(*) FROM advisories WHERE tenant = ?", (TENANT,)).fetchone()[0]
    finally:
        worker.stop()
        store.close()
    return events, stored


def with_address(event: dict[str, Any]) -> dict[str, Any]:
    """`event` with its record's web address, as an adapter sends it: every row of the queue
    then carries its link, the heaviest a page gets."""
    record = quote(str(event.get("subject") or event["id"]), safe="")
    return {**event, "recordurl": f"https://kf.example.org/api/v2/assets/aBenchSOM/data/"
                                  f"{record}/"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy",
                                                                    "all_proxy")}
    env.pop("MANDATE_RULES_TOKENS", None)
    proc = subprocess.Popen([sys.executable, "-c", "from mandate_rules._cli import main; main()",
                             "serve", "--db", str(db), "--port", str(port), "--no-access-log",
                             "--tick-interval", "0"], stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server was not ready in 300 s")


def measure(session: requests.Session, url: str, runs: int) -> tuple[float, float, int]:
    """Median and 95th percentile (ms) of fetching `url`, and its size in bytes."""
    times, size = [], 0
    for i in range(runs + 2):
        started = time.perf_counter()
        response = session.get(url, timeout=60)
        body = response.content
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text[:500]
        size = len(body)
        if i >= 2:
            times.append(elapsed)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)], size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "events.db"
        started = time.perf_counter()
        events, stored = fill(db, args.advisories)
        print(f"stored {events} events raising {stored} advisories in "
              f"{time.perf_counter() - started:.0f} s")
        port = free_port()
        proc = serve(db, port, Path(tmp) / "server.log")
        try:
            base = f"http://127.0.0.1:{port}"
            session = requests.Session()
            session.trust_env = False
            first = session.get(base + "/ui/", timeout=60)
            pages = int(re.search(r"page 1 of (\d+)", first.text).group(1))  # type: ignore[union-attr]
            css = len(session.get(base + "/ui/static/console.css", timeout=60).content)
            print(f"the queue holds {pages} pages of open advisories; stylesheet {css} bytes")
            print(f"{'page':<34} {'median ms':>10} {'p95 ms':>8} {'HTML KB':>8} {'+CSS KB':>8}")
            worst_ms = worst_kb = 0.0
            for name, path in (("first page (what people see)", "/ui/"),
                               ("a middle page", f"/ui/?page={max(1, pages // 2)}"),
                               ("the last page", f"/ui/?page={pages}"),
                               ("filtered: warning, first page", "/ui/?severity=warning")):
                median, p95, size = measure(session, base + path, args.runs)
                total_kb = (size + css) / 1024
                worst_ms, worst_kb = max(worst_ms, median), max(worst_kb, total_kb)
                print(f"{name:<34} {median:>10.1f} {p95:>8.1f} {size / 1024:>8.1f} "
                      f"{total_kb:>8.1f}")
        finally:
            proc.terminate()
            proc.wait(60)
    verdict = "within" if worst_ms < LIMIT_MS and worst_kb < LIMIT_KB else "OUTSIDE"
    print(f"worst median {worst_ms:.1f} ms, heaviest {worst_kb:.1f} KB: {verdict} the "
          f"bounds ({LIMIT_MS:.0f} ms, {LIMIT_KB:.0f} KB)")
    if verdict != "within":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
