"""Chart-ready series of one stream over a time range, from points taken off the recorder.

``MetricsRecorder.query_view`` takes what a range needs on the event loop (closed points are
shared: they never change once closed; open ones are copied); ``compute`` turns it into the
dashboard's JSON anywhere, a worker thread included, so a large range never stalls requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shardflow.metrics import table
from shardflow.metrics.points import (
    CONSUMER_LEVEL,
    QUEUE_LEVEL,
    STREAM_LEVEL,
    Point,
    by_name,
    catalogue,
    is_shard,
    merge,
)

# Time ranges the dashboard and the CLI offer: name -> (step in seconds, number of points).
RANGES = {"5m": (1, 300), "1h": (1, 3600), "1d": (60, 1440)}


@dataclass(frozen=True, slots=True)
class QueryView:
    stream: str
    range_name: str
    step: int
    count: int
    end: int  # the open interval's start: the range ends just before it
    history: list[tuple[int, Point]]  # closed points in the range, newest first
    extras: list[Point]  # the open second (and minute): in the totals, not in the values
    enabled: list[str]  # the shard-level metrics enabled on the stream now
    shard_ids: list[str]  # shards to show even without figures

    @property
    def start(self) -> int:
        return self.end - self.step * self.count


def compute(view: QueryView) -> dict[str, Any]:
    """The dashboard's JSON for one stream and range.

    ``values`` hold the console's statistic per closed interval (0 for a count with no
    data, None for an average or maximum with no samples); ``total`` is that statistic
    over the whole range *including* the interval in progress, so it is exact to the call.
    ``shards`` has the shard-level metrics enabled now and those kept while enabled earlier
    in the range; ``shard_level_metrics`` names the enabled ones.
    """
    step, count, start, end = view.step, view.count, view.start, view.end
    series: dict[str, dict[str, list[float | None]]] = {}
    merged: Point = {}

    def arrays(level: str) -> dict[str, list[float | None]]:
        found = series.get(level)
        if found is None:
            found = series[level] = {
                m.name: [0] * count if m.statistic == table.SUM else [None] * count
                for m in catalogue(level)
            }
        return found

    arrays(STREAM_LEVEL)
    for shard in view.shard_ids:
        arrays(shard)
    for ts, point in view.history:
        if ts < start or ts >= end:
            continue
        i = (ts - start) // step
        merge(merged, point)
        for level, metrics in point.items():
            target = arrays(level)
            infos = by_name(level)
            for name, stat in metrics.items():
                info = infos.get(name)
                if info is not None:
                    target[name][i] = stat.statistic(info.statistic)
    for extra in view.extras:
        merge(merged, extra)

    enabled = view.enabled
    kept = {name for level, metrics in merged.items() if is_shard(level) for name in metrics}
    shown = [m for m in table.SHARD_METRICS if m.name in enabled or m.name in kept]

    def block(level: str) -> dict[str, Any]:
        metrics = shown if is_shard(level) else catalogue(level)
        totals = merged.get(level, {})
        out = {}
        for m in metrics:
            stat = totals.get(m.name)
            total = stat.statistic(m.statistic) if stat is not None else None
            if total is None and m.statistic == table.SUM:
                total = 0
            out[m.name] = {
                "unit": m.unit,
                "statistic": m.statistic,
                "values": series[level][m.name],
                "total": total,
            }
        return out

    for level in merged:
        arrays(level)
    return {
        "stream": view.stream,
        "range": view.range_name,
        "step_s": step,
        "start": start,
        "end": end,
        "timestamps": list(range(start, end, step)),
        "metrics": block(STREAM_LEVEL),
        "shard_level_metrics": enabled,
        "shards": {level: block(level) for level in sorted(series) if is_shard(level) and shown},
        "consumers": {
            level.removeprefix(CONSUMER_LEVEL): block(level)
            for level in sorted(series)
            if level.startswith(CONSUMER_LEVEL)
        },
        "queues": {  # "<queue id>/<queue name>" -> its metrics
            level.removeprefix(QUEUE_LEVEL): block(level)
            for level in sorted(series)
            if level.startswith(QUEUE_LEVEL)
        },
    }
