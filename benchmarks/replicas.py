"""Replicas of the sidecar on one PostgreSQL database: throughput, latency and failover.

Each configuration runs on a fresh database on the server named by
``MANDATE_RULES_BENCH_PG`` (else ``MANDATE_RULES_TEST_PG``: `.ci/postgres` prints one), with
`mandate-rules serve` replicas on loopback (no tokens, no access log, no clock ticks) and the
load from a second process (`benchmarks.loadgen`). With two replicas, client *i* posts to
replica *i mod 2* for its whole run; the stream's operations (40 countries) are taken by
whichever replica first gets one of their events, so about half of the requests reach a
replica that does not hold their operation and are forwarded to the one that does.

* ``pg_events_per_s_8_clients_1_replica``: single events, 8 clients, one replica;
* ``pg_events_per_s_8_clients_2_replicas``, ``pg_p99_ms_8_clients_2_replicas``: two;
* ``pg_batch_events_per_s_2_replicas``: batches of 100 (8 clients), two replicas;
* ``failover_s``: from SIGKILL of the replica holding an operation to the first answer
  (200) for a request of that operation sent after the kill, by the other replica (a client
  posting that operation's events to the survivor in a loop), with the default
  ``lease_seconds`` (6); also with ``lease_seconds = 3``.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._common import Scale, log
from .sidecar import BATCHED_PER_S, SINGLES_PER_S, Sidecar, _load

ENVIRONMENT = ("MANDATE_RULES_BENCH_PG", "MANDATE_RULES_TEST_PG")


def server_url() -> str | None:
    for name in ENVIRONMENT:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def shown(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    import psycopg  # noqa: PLC0415 - only this section needs it
    from psycopg import sql  # noqa: PLC0415

    name = f"mr_bench_{secrets.token_hex(5)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path=f"/{name}"))
    finally:
        # FORCE cannot end an autovacuum worker for a role that is not a superuser: it
        # finishes in a moment, so ask again.
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        for attempt in range(20):
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(drop)
                break
            except psycopg.errors.InsufficientPrivilege:
                if attempt == 19:
                    raise
                time.sleep(0.5)


@contextmanager
def replicas(db: str, count: int, workdir: Path,
             lease_seconds: float | None = None) -> Iterator[list[Sidecar]]:
    args: tuple[str, ...] = ()
    workdir.mkdir(parents=True, exist_ok=True)
    if lease_seconds is not None:
        config = workdir / "replica.toml"
        config.write_text(f"lease_seconds = {lease_seconds}\n")
        args = ("--config", str(config))
    started: list[Sidecar] = []
    try:
        for n in range(count):
            folder = workdir / f"replica-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            server = Sidecar(folder, db=db, args=args)
            server.start()
            started.append(server)
        yield started
    finally:
        for server in started:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.send_signal(signal.SIGCONT)
            server.stop()


def forwarded(servers: list[Sidecar]) -> int:
    """Requests the replicas forwarded to one another (from their metrics)."""
    total = 0
    for server in servers:
        try:
            with server.opener.open(server.url + "/metrics", timeout=10) as response:
                text = response.read().decode()
        except (urllib.error.URLError, OSError):
            continue
        for line in text.splitlines():
            if line.startswith("mandate_rules_http_requests_total") \
                    and '"/v1/internal/jobs"' in line:
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def throughput(url: str, log_file: Path, scale: Scale, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"configurations": []}
    seconds = scale.sidecar_seconds
    for count, batch in ((1, 1), (2, 1), (2, 100)):
        budget = int((SINGLES_PER_S if batch == 1 else BATCHED_PER_S) * (seconds + 1))
        budget -= budget % batch
        with fresh_database(url) as db, replicas(db, count, workdir / f"{count}-{batch}") \
                as servers:
            result = _load(servers, log_file, 0, budget, 8, batch, seconds,
                           min(1.0, seconds / 3), workdir)
            result["replicas"] = count
            result["forwarded_requests"] = forwarded(servers)
            results["configurations"].append(result)
        log(f"  {count} replica(s), 8 clients, batch {batch:>3}: "
            f"{result['events_per_s']:.0f} events/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, {result['forwarded_requests']} forwarded"
            f"{', ' + str(result['errors']) + ' errors' if result['errors'] else ''}")
    return results


def _post(server: Sidecar, event: dict[str, Any], timeout: float) -> int:
    request = urllib.request.Request(server.url + "/v1/events",
                                     data=json.dumps(event).encode(), method="POST",
                                     headers={"Content-Type": "application/cloudevents+json"})
    try:
        with server.opener.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def failover(url: str, log_file: Path, workdir: Path, lease_seconds: float | None) -> float:
    """Seconds from SIGKILL of an operation's holder to the first 200 for a request of that
    operation sent after the kill, answered by the survivor."""
    lines = log_file.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    country = first["country"]
    ours = [json.loads(line) for line in lines if f'"country":"{country}"' in line][:400]
    with fresh_database(url) as db, replicas(db, 2, workdir, lease_seconds) as (holder, other):
        assert _post(holder, ours[0], 60) == 200  # the holder takes the operation
        answered: list[tuple[float, float]] = []  # (sent, answered) of each 200
        stop = threading.Event()

        def keep_posting() -> None:
            for round_ in itertools.count():
                for event in ours[1:]:
                    if stop.is_set():
                        return
                    sent = time.perf_counter()  # each event new: its id made unique
                    if _post(other, {**event, "id": f"{event['id']}-{round_}"}, 120) == 200:
                        answered.append((sent, time.perf_counter()))

        poster = threading.Thread(target=keep_posting, daemon=True)
        poster.start()
        time.sleep(1.0)  # forwarded to the holder meanwhile
        assert holder.proc is not None
        killed = time.perf_counter()
        holder.proc.send_signal(signal.SIGKILL)
        holder.proc.wait(30)
        deadline = killed + 120
        while time.perf_counter() < deadline and not any(s > killed for s, _ in answered):
            time.sleep(0.01)
        stop.set()
        poster.join(130)
        after = [a for s, a in answered if s > killed]
        if not after:
            raise RuntimeError("no answer for the operation after its holder was killed")
        return round(min(after) - killed, 2)


def run(scale: Scale, log_file: Path) -> dict[str, Any]:
    url = server_url()
    if url is None:
        log("replicas: skipped: no PostgreSQL server (set MANDATE_RULES_BENCH_PG, or "
            "MANDATE_RULES_TEST_PG as printed by .ci/postgres)")
        return {"skipped": "no PostgreSQL server named"}
    workdir = Path(tempfile.mkdtemp(prefix="mandate-rules-replicas-"))
    log(f"replicas: on {shown(url)}")
    try:
        results = throughput(url, log_file, scale, workdir)
        runs: dict[str, list[float]] = {"default": [], "3": []}
        for attempt in range(2):
            for lease, key in ((None, "default"), (3.0, "3")):
                seconds = failover(url, log_file, workdir / f"failover-{key}-{attempt}", lease)
                runs[key].append(seconds)
                log(f"  failover, lease_seconds {key}: {seconds} s")
        results["failover_runs_s"] = runs
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    by = {(c["replicas"], c["batch"]): c for c in results["configurations"]}
    results.update({
        "pg_events_per_s_8_clients_1_replica": by[(1, 1)]["events_per_s"],
        "pg_events_per_s_8_clients_2_replicas": by[(2, 1)]["events_per_s"],
        "pg_p99_ms_8_clients_2_replicas": by[(2, 1)]["p99_ms"],
        "pg_batch_events_per_s_2_replicas": by[(2, 100)]["events_per_s"],
        "failover_s": max(runs["default"]),
        "failover_s_lease_3": max(runs["3"]),
    })
    return results
