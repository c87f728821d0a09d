"""Data points and how they fold: ``[samples, sum, min, max]`` per metric, per level.

A ``Point`` holds one stream's figures for an interval, keyed by level: ``STREAM_LEVEL`` for the
stream itself, a shard id, or ``CONSUMER_LEVEL`` + a consumer's name. No I/O, no state.
"""

from __future__ import annotations

from shardflow.metrics import names
from shardflow.metrics.store import Metrics, Point, Stat

STREAM_LEVEL = ""  # the key of the stream's own metrics in a Point (the others are shard ids)
CONSUMER_LEVEL = "consumer/"  # + a consumer's name: its level in a Point (names have no "/")


def add(metrics: Metrics, name: str, value: float) -> None:
    """Add one sample to a data point ``[samples, sum, min, max]``."""
    stat = metrics.get(name)
    if stat is None:
        metrics[name] = [1, value, value, value]
        return
    stat[0] += 1
    stat[1] += value
    if value < stat[2]:
        stat[2] = value
    if value > stat[3]:
        stat[3] = value


def add_stat(metrics: Metrics, name: str, stat: Stat) -> None:
    """Fold a data point ``[samples, sum, min, max]`` into ``metrics[name]``."""
    mine = metrics.get(name)
    if mine is None:
        metrics[name] = list(stat)  # a copy: one stat may be added under several names
        return
    mine[0] += stat[0]
    mine[1] += stat[1]
    if stat[2] < mine[2]:
        mine[2] = stat[2]
    if stat[3] > mine[3]:
        mine[3] = stat[3]


def merge(into: Point, point: Point) -> None:
    """Fold ``point`` into ``into`` (both keyed by stream level / shard id, then metric)."""
    for level, metrics in point.items():
        target = into.setdefault(level, {})
        for name, stat in metrics.items():
            add_stat(target, name, stat)


def level_of(point: Point, key: str) -> Metrics:
    metrics = point.get(key)
    if metrics is None:
        metrics = point[key] = {}
    return metrics


def is_shard(level: str) -> bool:
    return level != STREAM_LEVEL and not level.startswith(CONSUMER_LEVEL)


def catalogue(level: str) -> tuple[names.MetricInfo, ...]:
    """The metrics a Point level holds: the stream's, a consumer's or a shard's."""
    if level == STREAM_LEVEL:
        return names.STREAM_METRICS
    return names.CONSUMER_METRICS if level.startswith(CONSUMER_LEVEL) else names.SHARD_METRICS


def by_name(level: str) -> dict[str, names.MetricInfo]:
    if level == STREAM_LEVEL:
        return names.STREAM_BY_NAME
    return names.CONSUMER_BY_NAME if level.startswith(CONSUMER_LEVEL) else names.SHARD_BY_NAME


def copy_point(point: Point) -> Point:
    """A copy that shares no list with ``point`` (whose stats are changed in place)."""
    return {level: {name: list(stat) for name, stat in m.items()} for level, m in point.items()}
