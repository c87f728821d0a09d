"""The read side of the recorder: what a scrape, the dashboard or a CloudWatch query takes.

Each function runs on the event loop and is cheap: closed points are shared (they never change
once closed), open ones copied, so the expensive part (rendering, folding a range) can run in the
render thread (``render.off_loop``).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import takewhile

from shardflow.metrics.catalogue import Catalogue, Listing
from shardflow.metrics.history import History
from shardflow.metrics.points import Point, copy_point, merge
from shardflow.metrics.series import RANGES, QueryView


def totals(history: History, open_second: dict[str, Point]) -> dict[str, Point]:
    """Everything since the process started, per stream: a fresh copy."""
    out = {stream: copy_point(point) for stream, point in history.totals.items()}
    for stream, point in open_second.items():
        merge(out.setdefault(stream, {}), point)
    return out


def recent_parts(
    history: History, open_second: dict[str, Point], stream: str, seconds: int
) -> list[Point]:
    """The points of the last ``seconds`` closed seconds (shared) and the open one (copied)."""
    parts: list[Point] = []
    since = history.second - seconds
    for ts, sample in reversed(history.seconds.get(stream, ())):
        if ts < since:
            break
        parts.append(sample)
    for opens in history.opens(1, open_second):
        found = opens.get(stream)
        if found:
            parts.append(copy_point(found))
    return parts


def view(
    history: History,
    open_second: dict[str, Point],
    stream: str,
    range_name: str,
    enabled: list[str],
    shard_ids: Iterable[str],
) -> QueryView:
    """What ``series.compute`` needs for one stream and range."""
    step, count = RANGES[range_name]
    closed, end = history.span(stream, step)
    start = end - step * count
    points = list(takewhile(lambda entry: entry[0] >= start, reversed(closed)))
    opens = history.opens(step, open_second)
    extras = [copy_point(found) for found in (o.get(stream) for o in opens) if found]
    return QueryView(stream, range_name, step, count, end, points, extras, enabled, list(shard_ids))


def points(
    history: History,
    open_second: dict[str, Point],
    stream: str,
    start: int,
    end: int,
    resolution: int,
) -> list[tuple[int, Point]]:
    """``stream``'s points at 1 s or 60 s with ``start <= ts < end``, the open one included
    (merged and copied); closed ones are shared, so the list may be read in another thread."""
    closed, open_ts = history.span(stream, resolution)
    out = [
        entry
        for entry in takewhile(lambda entry: entry[0] >= start, reversed(closed))
        if entry[0] < end
    ]
    if start <= open_ts < end:
        current: Point = {}
        for found in (o.get(stream) for o in history.opens(resolution, open_second)):
            if found:
                merge(current, found)
        if current:
            out.append((open_ts, current))
    return out


def listing(catalogue: Catalogue, history: History, open_second: dict[str, Point]) -> Listing:
    """Every metric with data and the last minute it had some, the open minute included."""
    out = catalogue.copy()
    now = history.minute
    for opens in history.opens(60, open_second):
        for stream, point in opens.items():
            levels = out.setdefault(stream, {})
            for level, metrics in point.items():
                seen = levels.setdefault(level, {})
                for name in metrics:
                    seen[name] = now
    return out
