"""Channel definitions and S3 delivery positions, in their own SQLite file beside the records.

A channel is kept as one JSON document (``engine.channel_model``). An S3 channel's position is
two numbers: ``delivered`` (every record at or below this store position is in S3) and
``pending`` (the range above it that is being written now). Writing ``pending`` before the
objects and ``delivered`` after them makes a delivery interrupted by ``kill -9`` redo exactly
the same range into the same object keys, so S3 holds each record once. Iceberg channels keep
their position in the table's own snapshots instead (``delivery.iceberg_sink``).

The file is small and written a few times per delivery, so one connection used from the
event loop's thread pool (``asyncio.to_thread``) is enough: no writer thread of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

FILE_NAME = "channels.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS channels (arn TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS positions (
    channel_id TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL,
    pending INTEGER
) WITHOUT ROWID;
"""


class ChannelStore:
    """Durable channel documents and S3 delivery positions (one SQLite file)."""

    def __init__(self, directory: Path, durable: bool = True) -> None:
        self.path = directory / FILE_NAME
        self._durable = durable
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def open(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
        conn.executescript(_SCHEMA)
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        assert self._conn is not None, "ChannelStore.open() first"
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- channel documents -----------------------------------------------------------------

    def load(self) -> list[tuple[str, str]]:
        """Every stored channel as (ARN, JSON document)."""
        return [(str(arn), str(doc)) for arn, doc in self._run("SELECT arn, doc FROM channels")]

    async def save(self, arn: str, doc: str) -> None:
        await asyncio.to_thread(
            self._run,
            "INSERT INTO channels (arn, doc) VALUES (?, ?)"
            " ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc",
            (arn, doc),
        )

    async def delete(self, arn: str, channel_id: str) -> None:
        await asyncio.to_thread(self.forget, arn, channel_id)

    def forget(self, arn: str, channel_id: str) -> None:
        """Delete a channel's document and position (blocking: start-up and threads only)."""
        self._run("DELETE FROM channels WHERE arn=?", (arn,))
        self._run("DELETE FROM positions WHERE channel_id=?", (channel_id,))

    # -- S3 delivery positions -------------------------------------------------------------

    def position(self, channel_id: str) -> tuple[int, int | None] | None:
        """(delivered, pending) of a channel, or None before its first delivery."""
        rows = self._run(
            "SELECT delivered, pending FROM positions WHERE channel_id=?", (channel_id,)
        )
        if not rows:
            return None
        delivered, pending = rows[0]
        return int(delivered), (None if pending is None else int(pending))  # type: ignore[call-overload]

    def begin(self, channel_id: str, delivered: int, pending: int) -> None:
        """Record that the range (delivered, pending] is being written (before writing it)."""
        self._run(
            "INSERT INTO positions (channel_id, delivered, pending) VALUES (?, ?, ?)"
            " ON CONFLICT (channel_id) DO UPDATE SET"
            " delivered = excluded.delivered, pending = excluded.pending",
            (channel_id, delivered, pending),
        )

    def finish(self, channel_id: str, delivered: int) -> None:
        """Record that everything up to ``delivered`` is written (after writing it)."""
        self._run(
            "UPDATE positions SET delivered=?, pending=NULL WHERE channel_id=?",
            (delivered, channel_id),
        )
