"""The closed seconds and minutes of each stream, the open minute, and the totals since start.

The last hour at 1 s and the last day at 1 min, in memory; every interval that closes is also
queued (``unsaved``) for the background writer (``persist``), so a restart keeps the history.
Closed points are never changed again: readers in other threads may share them.
"""

from __future__ import annotations

from collections import deque

from shardflow.metrics.points import Point, merge
from shardflow.metrics.store import Row

SECOND_HISTORY_S = 3600  # the last hour at 1 s resolution
MINUTE_HISTORY_S = 86400  # the last day at 1 min resolution


class History:
    def __init__(self, now: int) -> None:
        self.second = now  # the open second's start
        self.minute = now - now % 60  # the open minute's start
        # the open second as a previous process left it (a restart within one second):
        # history, but not this process's Prometheus counters
        self.carried: dict[str, Point] = {}
        self.open_minute: dict[str, Point] = {}
        self.seconds: dict[str, deque[tuple[int, Point]]] = {}
        self.minutes: dict[str, deque[tuple[int, Point]]] = {}
        self.totals: dict[str, Point] = {}  # since start, for Prometheus
        self.unsaved: list[Row] = []

    def close_second(self, closed: dict[str, Point]) -> None:
        """Close the open second with the figures this process folded into it (``closed``)."""
        ts = self.second
        for stream, point in closed.items():
            merge(self.totals.setdefault(stream, {}), point)
        carried, self.carried = self.carried, {}
        for stream, point in carried.items():
            merge(closed.setdefault(stream, {}), point)
        for stream, point in closed.items():
            self.seconds.setdefault(stream, deque()).append((ts, point))
            merge(self.open_minute.setdefault(stream, {}), point)
            self.unsaved.append((1, stream, ts, point))
        oldest = ts - SECOND_HISTORY_S
        for history in self.seconds.values():
            while history and history[0][0] < oldest:
                history.popleft()

    def close_minute(self) -> dict[str, Point]:
        """Close the open minute; returns its figures per stream."""
        ts = self.minute
        closed, self.open_minute = self.open_minute, {}
        for stream, point in closed.items():
            self.minutes.setdefault(stream, deque()).append((ts, point))
            self.unsaved.append((60, stream, ts, point))
        oldest = ts - MINUTE_HISTORY_S
        for history in self.minutes.values():
            while history and history[0][0] < oldest:
                history.popleft()
        return closed

    def has(self, stream: str) -> bool:
        """Does any closed point, the carried second or the open minute hold ``stream``?"""
        if stream in self.open_minute or stream in self.carried:
            return True
        return bool(self.seconds.get(stream)) or bool(self.minutes.get(stream))

    def forget(self, stream: str) -> None:
        for table in (self.seconds, self.minutes, self.totals):
            table.pop(stream, None)

    def streams(self) -> set[str]:
        return set(self.seconds) | set(self.minutes) | set(self.carried)

    def span(self, stream: str, resolution: int) -> tuple[deque[tuple[int, Point]], int]:
        """The closed points of ``stream`` at 1 s or 60 s, and the open interval's start."""
        if resolution == 1:
            return self.seconds.get(stream, deque()), self.second
        return self.minutes.get(stream, deque()), self.minute

    def opens(self, resolution: int, open_second: dict[str, Point]) -> list[dict[str, Point]]:
        """What the open interval at 1 s or 60 s holds so far, per stream, in parts."""
        if resolution == 1:
            return [open_second, self.carried]
        return [self.open_minute, open_second, self.carried]

    def restore(self, rows: list[Row]) -> None:
        """Rebuild the history from disk; minutes never closed are rebuilt from their seconds."""
        minutes: dict[str, dict[int, Point]] = {}
        for resolution, stream, ts, point in rows:
            if resolution == 60:
                minutes.setdefault(stream, {})[ts] = point
        rebuilt: dict[str, dict[int, Point]] = {}
        for resolution, stream, ts, point in rows:
            if resolution != 1:
                continue
            if ts >= self.second:
                # a restart within the second the last server stopped in: carry on with it
                merge(self.carried.setdefault(stream, {}), point)
                continue
            self.seconds.setdefault(stream, deque()).append((ts, point))
            minute = ts - ts % 60
            if minute in minutes.get(stream, {}):
                continue
            if minute == self.minute:
                merge(self.open_minute.setdefault(stream, {}), point)
            else:
                merge(rebuilt.setdefault(stream, {}).setdefault(minute, {}), point)
        for stream, points in rebuilt.items():
            for minute, point in points.items():
                minutes.setdefault(stream, {})[minute] = point
                self.unsaved.append((60, stream, minute, point))
        for stream, points in minutes.items():
            self.minutes[stream] = deque(sorted(points.items()))
