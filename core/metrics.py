"""In-process counters for /metrics; the HTTP adapter renders them in Prometheus' text format."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS_S))
    total: int = 0
    sum: float = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1


@dataclass
class Metrics:
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(source, outcome) -> count; outcome is applied, ignored, rejected or unknown."""
    deliveries: Counter[str] = field(default_factory=Counter)
    delivery_latency: Histogram = field(default_factory=Histogram)
    """Seconds from a run's last status event to its result handed to the chat platform."""

    def count_event(self, source: str, outcome: str) -> None:
        self.events[(source, outcome)] += 1
