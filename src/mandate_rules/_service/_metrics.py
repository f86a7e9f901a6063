"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

One `Metrics` object per app (no global registry): counters, gauges and histograms with
labels, safe to update from the event loop and from the engine thread at once.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0)

Labels = tuple[str, ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.labelnames = name, help_text, tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def lines(self) -> list[str]:
        """The exposition lines of this metric (each kind of metric writes its own)."""
        raise NotImplementedError  # pragma: no cover - Counter, Gauge and Histogram override it


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[Labels, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


class Gauge(_Metric):
    """A gauge whose values are read when scraped."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str],
                 read: Callable[[], Iterable[tuple[Labels, float]]]) -> None:
        super().__init__(name, help_text, labels)
        self._read = read

    def lines(self) -> list[str]:
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}"
                for k, v in sorted(self._read())]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = (),
                 buckets: Sequence[float] = _LATENCY_BUCKETS) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, total = self._series.setdefault(labels, ([0] * (len(self.buckets) + 1),
                                                             [0.0]))
            counts[bisect.bisect_left(self.buckets, value)] += 1
            total[0] += value

    def lines(self) -> list[str]:
        with self._lock:
            series = sorted((k, (list(c), t[0])) for k, (c, t) in self._series.items())
        out = []
        for labels, (counts, total) in series:
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = f'le="{"+Inf" if bound == float("inf") else repr(float(bound))}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {running}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, labels)} {_number(total)}")
            out.append(f"{self.name}_count{_labels(self.labelnames, labels)} {running}")
        return out


class Metrics:
    """The sidecar's metrics. Gauges that read live state are added by the app."""

    def __init__(self) -> None:
        p = "mandate_rules_"
        self.events = Counter(p + "events_total", "Events received, by type and outcome "
                              "(stored, duplicate, tick).", ("type", "outcome"))
        self.advisories = Counter(p + "advisories_total", "Advisories raised and stored, by "
                                  "rule and severity.", ("rule", "severity"))
        self.shadow_advisories = Counter(p + "shadow_advisories_total", "Advisories the "
                                         "candidate rule packs raised, by rule and severity.",
                                         ("rule", "severity"))
        self.errors = Counter(p + "errors_total", "Requests answered with an error, by stable "
                              "error code.", ("code",))
        self.requests = Counter(p + "http_requests_total", "HTTP requests, by method, route "
                                "and status.", ("method", "route", "status"))
        self.latency = Histogram(p + "http_request_duration_seconds", "Time from request to "
                                 "response, by method and route.", ("method", "route"))
        self.evaluation = Histogram(p + "evaluation_seconds", "Time the engine took for one "
                                    "event (live rule packs).")
        self.commit = Histogram(p + "store_commit_seconds", "Time to commit one group of "
                                "writes to the store (fsync included).")
        self.replayed = Counter(p + "replayed_events_total", "Stored events replayed to "
                                "rebuild engine state (start, reload, recovery).")
        self.divergent = Counter(p + "replay_divergence_total", "Replayed events whose "
                                 "advisories differed from those stored under the same rule "
                                 "packs (should stay 0).")
        self.replay_errors = Counter(p + "replay_errors_total", "Stored events the engine "
                                     "could not replay (for example after a schema change).")
        self.reloads = Counter(p + "reloads_total", "Rule-pack reloads, by result.",
                               ("result",))
        self.missing_keys = Counter(p + "missing_keys_total", "Events a stateful rule "
                                    "matched but could not follow, because a field it groups "
                                    "by was missing, by rule and field.", ("rule", "field"))
        self.conflicts = Counter(p + "conflicting_redeliveries_total", "Events refused "
                                 "because their source and id were already taken by other "
                                 "content (409 conflicting-redelivery).")
        self._metrics: list[_Metric] = [
            self.events, self.advisories, self.shadow_advisories, self.errors, self.requests,
            self.latency, self.evaluation, self.commit, self.replayed, self.divergent,
            self.replay_errors, self.reloads, self.missing_keys, self.conflicts,
        ]

    def add_gauge(self, name: str, help_text: str, labels: Sequence[str],
                  read: Callable[[], Iterable[tuple[Labels, float]]]) -> None:
        self._metrics.append(Gauge("mandate_rules_" + name, help_text, labels, read))

    def render(self) -> str:
        out: list[str] = []
        for metric in self._metrics:
            out.extend(metric.header())
            out.extend(metric.lines())
        return "\n".join(out) + "\n"
