"""Which metrics have data, per stream and level, and the last minute they had: ListMetrics.

CloudWatch lists a metric once data was published for it (and ``RecentlyActive=PT3H`` only those
with data in the last three hours). Scanning a day of history per call would cost a thousand
points per stream; instead each minute, as it closes, notes its metric names here.
"""

from __future__ import annotations

from shardflow.metrics.points import Point, by_name

# stream -> level ("" the stream, a shard id, "consumer/NAME") -> metric name -> last minute (s)
Listing = dict[str, dict[str, dict[str, int]]]


class Catalogue:
    def __init__(self) -> None:
        self.last: Listing = {}

    def note(self, stream: str, point: Point, ts: int) -> None:
        levels = self.last.get(stream)
        if levels is None:
            levels = self.last[stream] = {}
        for level, metrics in point.items():
            known = by_name(level)
            seen = levels.get(level)
            if seen is None:
                seen = levels[level] = {}
            for name in metrics:
                if name in known and seen.get(name, ts) <= ts:
                    seen[name] = ts

    def forget(self, stream: str) -> None:
        self.last.pop(stream, None)

    def copy(self) -> Listing:
        return {
            stream: {level: dict(names) for level, names in levels.items()}
            for stream, levels in self.last.items()
        }
