"""Durable queue state (Kinesis queues, 2026): every read and write of the queue tables.

Three tables, created on first start by this module (not ``schema.TABLES``: a database made
before queues existed must open without being refused as missing a table):

- ``queues``: one JSON document per queue (name, stream, attributes, times, tags).
- ``queue_cursors``: per queue and shard, the first position never delivered. Every record
  below it is acknowledged (no row below) or has a delivery row.
- ``queue_deliveries``: per delivered, unacknowledged record: receive count, first receive,
  the time it becomes visible again, the generation of its current receipt handle, and whether
  it is a dead letter. Acknowledging deletes the row.

Writes go through the store's single writer and resolve after their commit, so an answered
receive or acknowledgement survives ``kill -9`` under the default durability (``process``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shardflow.storage.sqlite import SqliteStore, record_id, shard_bounds

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS queues (uid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue_cursors (
    queue_uid INTEGER NOT NULL,
    shard_uid INTEGER NOT NULL,
    next_position INTEGER NOT NULL,
    PRIMARY KEY (queue_uid, shard_uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_deliveries (
    queue_uid INTEGER NOT NULL,
    shard_uid INTEGER NOT NULL,
    position INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    dead INTEGER NOT NULL,
    PRIMARY KEY (queue_uid, shard_uid, position)
) WITHOUT ROWID;
"""

_UPSERT = (
    "INSERT OR REPLACE INTO queue_deliveries (queue_uid, shard_uid, position, receive_count,"
    " first_receive_ms, visible_at_ms, generation, dead) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELETE = "DELETE FROM queue_deliveries WHERE queue_uid = ? AND shard_uid = ? AND position = ?"
_CURSOR = (
    "INSERT OR REPLACE INTO queue_cursors (queue_uid, shard_uid, next_position) VALUES (?, ?, ?)"
)


@dataclass(slots=True)
class DeliveryRow:
    """One delivered, unacknowledged record of a queue, as stored."""

    queue_uid: int
    shard_uid: int
    position: int
    receive_count: int
    first_receive_ms: int
    visible_at_ms: int
    generation: int
    dead: bool

    def values(self) -> tuple[int, ...]:
        return (
            self.queue_uid,
            self.shard_uid,
            self.position,
            self.receive_count,
            self.first_receive_ms,
            self.visible_at_ms,
            self.generation,
            int(self.dead),
        )


@dataclass(slots=True)
class Loaded:
    docs: list[tuple[int, str]]
    cursors: list[tuple[int, int, int]]  # (queue uid, shard uid, next position)
    deliveries: list[DeliveryRow]


class QueueStore:
    """Named, atomic writes of queue state; each future resolves after its commit."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def create_tables(self) -> None:
        if self._store.read_only is not None:
            return

        def run(conn: Any, state: Any) -> None:
            for statement in TABLES_SQL.split(";"):
                if statement.strip():
                    conn.execute(statement)

        await self._store.submit(run)

    def load(self) -> Loaded:
        conn = self._store.reader
        have = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "queues" not in have:
            return Loaded([], [], [])
        docs = conn.execute("SELECT uid, doc FROM queues ORDER BY uid").fetchall()
        cursors = conn.execute(
            "SELECT queue_uid, shard_uid, next_position FROM queue_cursors"
        ).fetchall()
        rows = [
            DeliveryRow(q, s, p, c, f, v, g, bool(d))
            for q, s, p, c, f, v, g, d in conn.execute(
                "SELECT queue_uid, shard_uid, position, receive_count, first_receive_ms,"
                " visible_at_ms, generation, dead FROM queue_deliveries"
            )
        ]
        return Loaded(docs, cursors, rows)

    def count_records(self, shard_uid: int, from_position: int, cap: int) -> int:
        """Records of a shard at or after ``from_position``, counted up to ``cap``."""
        lo = record_id(shard_uid, from_position)
        hi = shard_bounds(shard_uid)[1]
        row = self._store.reader.execute(
            "SELECT count(*) FROM (SELECT 1 FROM records WHERE id BETWEEN ? AND ? LIMIT ?)",
            (lo, hi, cap),
        ).fetchone()
        return int(row[0])

    def save_queue(self, uid: int, doc: str) -> asyncio.Future[None]:
        return self._store.execute(
            [("INSERT OR REPLACE INTO queues (uid, doc) VALUES (?, ?)", (uid, doc))]
        )

    def save_cursors(self, cursors: Iterable[tuple[int, int, int]]) -> asyncio.Future[None]:
        return self._store.execute([(_CURSOR, c) for c in cursors])

    def delete_queue(self, uid: int, keep_doc: bool) -> asyncio.Future[None]:
        """Forget a queue's deliveries and cursors (and its document unless ``keep_doc``)."""
        statements = [
            ("DELETE FROM queue_deliveries WHERE queue_uid = ?", (uid,)),
            ("DELETE FROM queue_cursors WHERE queue_uid = ?", (uid,)),
        ]
        if not keep_doc:
            statements.append(("DELETE FROM queues WHERE uid = ?", (uid,)))
        return self._store.execute(statements)

    def change(
        self,
        upserts: Iterable[DeliveryRow] = (),
        deletes: Iterable[tuple[int, int, int]] = (),
        cursors: Iterable[tuple[int, int, int]] = (),
    ) -> asyncio.Future[None]:
        """Delivery rows written or deleted and cursors moved, as one atomic unit."""
        statements: list[tuple[str, tuple[int, ...]]] = [(_UPSERT, r.values()) for r in upserts]
        statements += [(_DELETE, d) for d in deletes]
        statements += [(_CURSOR, c) for c in cursors]
        return self._store.execute(statements)
