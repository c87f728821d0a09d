"""Data points and how they fold: a ``Stat`` per metric, per level, per stream and interval.

A ``Point`` holds one stream's figures for an interval, keyed by level: ``STREAM_LEVEL`` for the
stream itself, a shard id, or ``CONSUMER_LEVEL`` + a consumer's name. No I/O, no state.
"""

from __future__ import annotations

from shardflow.metrics import table
from shardflow.metrics.stat import Stat
from shardflow.metrics.table import MetricInfo

Metrics = dict[str, Stat]  # CloudWatch metric name -> data point
Point = dict[str, Metrics]  # "" (the stream itself), a shard id or "consumer/NAME" -> metrics
PlainPoint = dict[str, dict[str, list[float]]]  # a Point as JSON has it (stats as lists)

STREAM_LEVEL = ""  # the key of the stream's own metrics in a Point (the others are shard ids)
CONSUMER_LEVEL = "consumer/"  # + a consumer's name: its level in a Point (names have no "/")
QUEUE_LEVEL = "queue/"  # + "<queue id>/<queue name>": a queue of the stream (neither has "/")


# ``add`` and ``add_stat`` run per metric and fold: ``Stat.add`` and ``Stat.fold`` inlined.


def add(metrics: Metrics, name: str, value: float) -> None:
    """Add one sample to ``metrics[name]``."""
    stat = metrics.get(name)
    if stat is None:
        metrics[name] = Stat.of(value)
    else:
        stat.add(value)


def add_stat(metrics: Metrics, name: str, stat: Stat) -> None:
    """Fold ``stat`` into ``metrics[name]`` (a copy when new: one stat may go under several)."""
    mine = metrics.get(name)
    if mine is None:
        metrics[name] = stat.copy()
    else:
        mine.fold(stat)


def add_fresh(metrics: Metrics, name: str, stat: Stat) -> None:
    """``add_stat`` for a stat made for this fold: a new entry keeps it instead of a copy.

    Its maker may still add it elsewhere (``add_stat`` copies) but must not change it after.
    """
    mine = metrics.get(name)
    if mine is None:
        metrics[name] = stat
    else:
        mine.fold(stat)


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
    return level != STREAM_LEVEL and not level.startswith((CONSUMER_LEVEL, QUEUE_LEVEL))


def kind(level: str) -> str:
    """The table's level (table.STREAM, SHARD or CONSUMER) of a Point's level."""
    if level == STREAM_LEVEL:
        return table.STREAM
    if level.startswith(QUEUE_LEVEL):
        return table.QUEUE
    return table.CONSUMER if level.startswith(CONSUMER_LEVEL) else table.SHARD


def catalogue(level: str) -> tuple[MetricInfo, ...]:
    """The metrics a Point level holds: the stream's, a consumer's or a shard's."""
    return table.BY_LEVEL[kind(level)]


def by_name(level: str) -> dict[str, MetricInfo]:
    return table.BY_NAME[kind(level)]


def copy_point(point: Point) -> Point:
    """A copy that shares no stat with ``point`` (whose stats are changed in place)."""
    return {level: {name: s.copy() for name, s in m.items()} for level, m in point.items()}


def plain(point: Point) -> PlainPoint:
    """``point`` with each stat as ``[samples, sum, min, max]``: as stored on disk."""
    return {level: {name: s.as_list() for name, s in m.items()} for level, m in point.items()}


def from_plain(point: PlainPoint) -> Point:
    return {level: {name: Stat.from_list(s) for name, s in m.items()} for level, m in point.items()}
