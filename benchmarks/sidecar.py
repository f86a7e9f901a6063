"""The HTTP sidecar with persistence: throughput and latency of ``POST /v1/events``, and
the time a restart takes to rebuild state from the stored events.

`mandate-rules serve` runs on loopback with a fresh SQLite file (``synchronous=FULL``, as
shipped), no tokens, no access log and no clock ticks. The load comes from a second process
(`benchmarks.loadgen`), with 1, 8 and 32 concurrent keep-alive clients, single events and
batches of 100. Each configuration posts the next slice of one seeded stream (the stored
log of `startup`), so no event is a duplicate and the server's windows fill as in a real
deployment. Afterwards the store is topped up to the whole log, the server is stopped
(SIGTERM, which writes each tenant's snapshot) and started again, and the restart is timed
until ``/readyz`` answers 200; then again with the snapshot deleted, replaying the whole log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ._common import Scale, log
from .startup import write_log

START_TIMEOUT = 600.0  # a restart replays the whole log


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Sidecar:
    """`mandate-rules serve` in a subprocess on 127.0.0.1."""

    def __init__(self, workdir: Path, db: str | None = None,
                 args: tuple[str, ...] = ()) -> None:
        """`db` None: a SQLite file in `workdir`; else a postgresql:// URL, whose password
        is handed over in PGPASSWORD rather than on the command line."""
        self.workdir = workdir
        self.db = workdir / "events.db"
        self.url_db = db
        self.args = args
        self.log_path = workdir / "server.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.opener = _no_proxy_opener()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        script = Path(sys.executable).with_name("mandate-rules")
        head = [str(script)] if script.exists() else [
            sys.executable, "-c", "from mandate_rules._cli import main; main()"]
        db = str(self.db) if self.url_db is None else _without_password(self.url_db)
        return [*head, "serve", "--db", db, "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log", "--tick-interval", "0",
                *self.args]

    def start(self) -> float:
        """Start the server; the seconds from process start until /readyz answers 200."""
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.pop("MANDATE_RULES_TOKENS", None)
        env.pop("MANDATE_RULES_CONFIG", None)
        if self.url_db is not None and urllib.parse.urlsplit(self.url_db).password:
            env["PGPASSWORD"] = str(urllib.parse.urlsplit(self.url_db).password)
        started = time.perf_counter()
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         env=env, cwd=self.workdir)
        deadline = started + START_TIMEOUT
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the sidecar exited ({self.proc.returncode}):\n"
                                   f"{self.log_text()[-3000:]}")
            try:
                with self.opener.open(self.url + "/readyz", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError("the sidecar was not ready in time")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def replay_seconds(self) -> float | None:
        found = re.findall(r"engines ready: .*'seconds': ([0-9.]+)", self.log_text())
        return float(found[-1]) if found else None

    def drop_snapshots(self) -> None:
        """Delete the stored snapshots (the server is stopped)."""
        import sqlite3  # noqa: PLC0415 - only here

        conn = sqlite3.connect(self.db, timeout=30)
        try:
            with conn:
                conn.execute("DELETE FROM operation_snapshots")
        finally:
            conn.close()

    def stored_events(self) -> int:
        import sqlite3  # noqa: PLC0415 - only here, read-only, as an auditor would

        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            conn.close()

    def post_batch(self, lines: list[str]) -> None:
        body = ("[" + ",".join(lines) + "]").encode()
        request = urllib.request.Request(
            self.url + "/v1/events", data=body, method="POST",
            headers={"Content-Type": "application/cloudevents-batch+json"})
        with self.opener.open(request, timeout=300) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"top-up batch refused: {response.status}")


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def _load(sidecar: Sidecar | list[Sidecar], log_file: Path, first: int, count: int,
          clients: int, batch: int, seconds: float, warmup: float,
          workdir: Path) -> dict[str, Any]:
    """Run the load generator on one server, or spread its clients over several."""
    out = workdir / f"load-{clients}-{batch}.json"
    servers = sidecar if isinstance(sidecar, list) else [sidecar]
    urls = [arg for server in servers for arg in ("--url", server.url)]
    subprocess.run([sys.executable, "-m", "benchmarks.loadgen", *urls,
                    "--events", str(log_file), "--first", str(first), "--count", str(count),
                    "--clients", str(clients), "--batch", str(batch), "--seconds", str(seconds),
                    "--warmup", str(warmup), "--out", str(out)],
                   check=True, cwd=Path(__file__).resolve().parents[1])
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# Events each configuration may post, per second of its run (warm-up included): well above
# the targets, so that a run ends by its clock, not by running out of events.
SINGLES_PER_S, BATCHED_PER_S = 2500, 8000
SINGLES_TARGET = 1000  # events/s, 8 clients posting single events


def run(scale: Scale, log_file: Path, log_events: int) -> dict[str, Any]:
    """Run every configuration against one server; `log_file` holds `log_events` events."""
    workdir = Path(tempfile.mkdtemp(prefix="mandate-rules-bench-"))
    # The configurations post slices of one log, each event once. The suite's log is sized
    # for the rebuild section; in --quick it is too short for this one (single events would
    # run out within the warm-up even below the target), so a longer log of the same seeded
    # stream is written for it.
    if log_events // 12 < SINGLES_TARGET * (scale.sidecar_seconds + 1):
        log_file = workdir / "stored-log.jsonl"
        log_events = int(12 * SINGLES_PER_S * (scale.sidecar_seconds + 1))
        write_log(log_file, log_events)
    sidecar = Sidecar(workdir)
    results: dict[str, Any] = {"configurations": []}
    try:
        first_start = sidecar.start()
        results["first_start_s"] = round(first_start, 3)
        log(f"sidecar: ready in {first_start:.2f} s on {sidecar.url}")
        # How many events each configuration may use: enough for its duration at a rate
        # well above the targets, and the whole set well within the stored log.
        singles_budget = min(log_events // 12,
                             int(SINGLES_PER_S * (scale.sidecar_seconds + 1)))
        batch_budget = min(log_events // 5, int(BATCHED_PER_S * (scale.sidecar_seconds + 1)))
        batch_budget -= batch_budget % 100
        cursor = 0
        for batch, budget in ((1, singles_budget), (100, batch_budget)):
            for clients in scale.sidecar_clients:
                result = _load(sidecar, log_file, cursor, budget, clients, batch,
                               scale.sidecar_seconds, min(1.0, scale.sidecar_seconds / 3),
                               workdir)
                cursor += result["sent_total"] * batch
                results["configurations"].append(result)
                log(f"  {clients:>2} clients, batch {batch:>3}: {result['events_per_s']:.0f} "
                    f"events/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
                    f"{', ' + str(result['errors']) + ' errors' if result['errors'] else ''}")
        # Top the store up to the whole log, then restart and time the rebuild.
        topped = time.perf_counter()
        lines = log_file.read_text(encoding="utf-8").splitlines()[cursor:log_events]
        for i in range(0, len(lines), 500):
            if time.perf_counter() - topped > scale.topup_seconds:
                break  # the restart is timed with what is stored by then
            sidecar.post_batch(lines[i:i + 500])
        stored = sidecar.stored_events()
        log(f"  store topped up to {stored} events in {time.perf_counter() - topped:.1f} s")
        # Stopping writes each tenant's snapshot: the restart loads it and replays nothing.
        sidecar.stop()
        restart = sidecar.start()
        replay = sidecar.replay_seconds()
        # Without the snapshot (a crash before the first one, or other rule packs), the
        # restart replays the whole log.
        sidecar.stop()
        sidecar.drop_snapshots()
        full = sidecar.start()
        full_replay = sidecar.replay_seconds()
        results["restart"] = {"stored_events": stored, "process_start_to_ready_s":
                              round(restart, 3), "replay_s": replay,
                              "without_snapshot": {"process_start_to_ready_s": round(full, 3),
                                                   "replay_s": full_replay}}
        log(f"  restart with {stored} stored events: ready in {restart:.1f} s from its "
            f"snapshot (engines {replay} s); {full:.1f} s replaying the whole log "
            f"(engines {full_replay} s)")
        results["db_mb"] = round(sidecar.db.stat().st_size / 1e6, 1)
    finally:
        sidecar.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results
