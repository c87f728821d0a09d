"""What a Prometheus scrape shows, copied on the event loop and rendered in a thread.

Copying is a few milliseconds at 1,000 streams; rendering the text is far more, so it happens
off the loop (docs/monitoring.md has the figures) and requests never wait for a scrape.
"""

from __future__ import annotations

from dataclasses import dataclass

from shardflow.metrics.points import Point


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream's description as the scrape shows it (read on the loop)."""

    name: str
    status: str
    mode: str
    open_shards: int
    closed_shards: int
    retention_hours: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    totals: dict[str, Point]  # since the process started, per stream
    calls: dict[tuple[str, str, str], int]  # (stream, operation, outcome) -> calls
    durations: dict[tuple[str, str], list[float]]  # (stream, operation) -> buckets, then sum
    iterator_ages: dict[str, int]  # stream -> ms
    shard_iterator_ages: dict[tuple[str, str], int]  # (stream, shard) -> ms
    consumer_lags: dict[tuple[str, str, str], int]  # (stream, consumer, shard) -> ms
    # (stream, queue level) -> the last sampled (visible, in flight, dead letters visible)
    queue_depths: dict[tuple[str, str], tuple[int, int, int]]
    shard_metrics: dict[str, list[str]]  # stream -> shard-level metrics enabled now
    streams: list[StreamInfo]
    series: int  # series kept now (bounds.SeriesBudget)
    max_series: int
    series_refused: int
