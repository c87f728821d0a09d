"""The metrics history on disk: its own SQLite file in the server's data dir.

One row per stream and data point (a second or a minute), the point as a JSON document
``{"": {metric: [samples, sum, min, max]}, "shardId-...": {...}}``. Written only by the recorder's
background thread, a few seconds' worth at a time; never on the request path.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from shardflow.metrics.points import Point, from_plain, plain

FILE_NAME = "metrics.sqlite3"

Row = tuple[int, str, int, Point]  # (resolution in seconds, stream, start time in s, point)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    resolution INTEGER NOT NULL,  -- 1 or 60 (seconds)
    stream     TEXT    NOT NULL,
    ts         INTEGER NOT NULL,  -- start of the interval, Unix seconds
    data       BLOB    NOT NULL,
    PRIMARY KEY (resolution, stream, ts)
) WITHOUT ROWID
"""


class MetricsStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # history, not data: a lost last write is fine
        conn.execute(_SCHEMA)
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def load(self, seconds_since: int, minutes_since: int) -> list[Row]:
        assert self._conn is not None
        cursor = self._conn.execute(
            "SELECT resolution, stream, ts, data FROM points"
            " WHERE (resolution = 1 AND ts >= ?) OR (resolution = 60 AND ts >= ?)"
            " ORDER BY resolution, stream, ts",
            (seconds_since, minutes_since),
        )
        return [
            (res, stream, ts, from_plain(orjson.loads(data))) for res, stream, ts, data in cursor
        ]

    def save(self, rows: list[Row], seconds_before: int, minutes_before: int) -> None:
        """Write ``rows`` and forget points older than the history keeps, in one transaction."""
        assert self._conn is not None
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?)",
                [(res, stream, ts, orjson.dumps(plain(point))) for res, stream, ts, point in rows],
            )
            conn.execute("DELETE FROM points WHERE resolution = 1 AND ts < ?", (seconds_before,))
            conn.execute("DELETE FROM points WHERE resolution = 60 AND ts < ?", (minutes_before,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
