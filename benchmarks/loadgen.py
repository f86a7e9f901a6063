"""The load generator: a separate process that posts events to a running sidecar.

    python -m benchmarks.loadgen --url http://127.0.0.1:PORT --events FILE.jsonl
        --first 0 --count 8000 --clients 8 --batch 1 --seconds 6 --warmup 1 --out OUT.json

Each client is a thread with its own keep-alive connection (`http.client`), posting bodies
serialised before the clock starts: one event per request (``--batch 1``, media type
``application/cloudevents+json``) or a JSON array of `--batch` events
(``application/cloudevents-batch+json``). Clients take the next request from one shared
queue, so the events reach the server roughly in stream order. The run stops when the
events are used up or `--seconds` after the warm-up; only requests answered between the end
of the warm-up and the end of the run are counted. Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _bodies(path: Path, first: int, count: int, batch: int) -> list[bytes]:
    lines: list[str] = []
    with path.open(encoding="utf-8") as source:
        for index, line in enumerate(source):
            if index >= first + count:
                break
            if index >= first:
                lines.append(line.strip())
    if batch == 1:
        return [line.encode() for line in lines]
    return [("[" + ",".join(lines[i:i + batch]) + "]").encode()
            for i in range(0, len(lines), batch)]


def run(urls: str | Sequence[str], bodies: Sequence[bytes], clients: int, batch: int,
        seconds: float, warmup: float) -> dict[str, Any]:
    """Load the servers at `urls` (client i posts to the (i mod n)-th, for its whole run)."""
    targets = []
    for url in [urls] if isinstance(urls, str) else urls:
        target = urllib.parse.urlsplit(url)
        if (target.hostname or "") not in LOOPBACK:
            raise SystemExit(f"refusing to load {target.hostname!r}: loopback only")
        targets.append((target.hostname or "", target.port or 80))
    content_type = ("application/cloudevents+json" if batch == 1
                    else "application/cloudevents-batch+json")
    lock = threading.Lock()
    queue = iter(range(len(bodies)))
    records: list[tuple[float, float, int, int]] = []  # (finished, seconds, status, events)
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    errors: list[str] = []

    def client(number: int) -> None:
        host, port = targets[number % len(targets)]
        conn = http.client.HTTPConnection(host, port, timeout=120)
        mine: list[tuple[float, float, int, int]] = []
        try:
            while True:
                with lock:
                    index = next(queue, None)
                if index is None or time.perf_counter() >= stop_at:
                    break
                body = bodies[index]
                t0 = time.perf_counter()
                conn.request("POST", "/v1/events", body=body,
                             headers={"Content-Type": content_type,
                                      "Content-Length": str(len(body))})
                response = conn.getresponse()
                payload = response.read()
                t1 = time.perf_counter()
                if response.status != 200:
                    errors.append(f"{response.status}: {payload[:200]!r}")
                mine.append((t1, t1 - t0, response.status, batch))
        except OSError as exc:
            errors.append(repr(exc))
        finally:
            conn.close()
            with lock:
                records.extend(mine)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Requests answered within the window, which closes when the clients stop sending (or
    # the last answer, if the events ran out first): answers that drain after it would
    # stretch the window over a server no longer fully loaded.
    finished = [r[0] for r in records]
    window_end = min(stop_at, max(finished)) if finished else measure_from
    counted = [r for r in records if measure_from <= r[0] <= window_end and r[2] == 200]
    window_start = measure_from
    if not counted:  # a short run: count everything rather than nothing
        counted = [r for r in records if r[2] == 200]
        window_start = started
        window_end = max((r[0] for r in counted), default=started)
    window = window_end - window_start
    latencies = sorted(r[1] for r in counted)

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        index = min(len(latencies) - 1, max(0, int(-(-q * len(latencies) // 100)) - 1))
        return round(latencies[index] * 1000, 3)

    events = sum(r[3] for r in counted)
    return {"clients": clients, "batch": batch, "requests": len(counted),
            "events": events, "seconds": round(window, 3),
            "events_per_s": round(events / window, 1) if window else 0.0,
            "requests_per_s": round(len(counted) / window, 1) if window else 0.0,
            "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": pct(100),
            "errors": len(errors), "error_examples": errors[:3],
            "sent_total": len(records)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, action="append",
                        help="a server to load; several: the clients take turns among them")
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    bodies = _bodies(args.events, args.first, args.count, args.batch)
    result = run(args.url, bodies, args.clients, args.batch, args.seconds, args.warmup)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
