"""Leases and checkpoints in a SQLite file: survives restarts, shared by processes on one machine.

WAL mode lets readers run beside a writer. Every change of a lease is one UPDATE whose WHERE
clause carries the (owner, counter) condition and raises the counter, atomic on its own, so two
processes racing for a lease cannot both win. Expiry is the reader's business (``expiry``): the
row holds no time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import platformdirs

from shardflow.consumer.records import Position
from shardflow.consumer.shards import ShardInfo
from shardflow.consumer.store import Lease

BUSY_TIMEOUT_MS = 10_000  # other processes hold the write lock for microseconds; be patient

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    scope TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    owner TEXT,
    counter INTEGER NOT NULL DEFAULT 0,
    checkpoint_sequence TEXT,
    checkpoint_subsequence INTEGER NOT NULL DEFAULT 0,
    parents TEXT NOT NULL DEFAULT '',
    owner_switches INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, shard_id)
)
"""
_COLUMNS = (
    "shard_id, owner, counter, checkpoint_sequence, checkpoint_subsequence, parents, owner_switches"
)


def _lease(row: tuple[object, ...]) -> Lease:
    shard, owner, counter, seq, sub, parents, switches = row
    return Lease(
        str(shard),
        owner if isinstance(owner, str) else None,
        int(counter),  # type: ignore[call-overload]
        _position(seq, sub),  # type: ignore[arg-type]
        tuple(filter(None, str(parents).split(","))),
        int(switches),  # type: ignore[call-overload]
    )


def default_path() -> Path:
    return Path(platformdirs.user_state_dir("shardflow")) / "checkpoints.sqlite"


def _position(sequence: str | None, subsequence: int) -> Position | None:
    if sequence is None:
        return None
    return Position(int(sequence), subsequence)


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """Put the database in WAL mode, waiting for other workers opening it at the same moment.

    SQLite does not call the busy handler for this switch: two processes opening a new store
    together would otherwise fail one of them with "database is locked".
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SQLiteCheckpointStore:
    """The default store: one table of lease rows keyed by (scope, shard)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(self.path),
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        self._lock = threading.Lock()
        _switch_to_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(leases)")}
        if "owner_switches" not in columns:  # a store written before leases counted switches
            self._db.execute(
                "ALTER TABLE leases ADD COLUMN owner_switches INTEGER NOT NULL DEFAULT 0"
            )

    def sync_shards(self, scope: str, shards: list[ShardInfo]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO leases (scope, shard_id, parents) VALUES (?, ?, ?)",
                    [(scope, s.shard_id, ",".join(s.parents)) for s in shards],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def leases(self, scope: str) -> list[Lease]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM leases WHERE scope = ? ORDER BY shard_id", (scope,)
            ).fetchall()
        return [_lease(row) for row in rows]

    def _counter(self, sql: str, args: tuple[object, ...]) -> int | None:
        with self._lock:
            row = self._db.execute(sql + " RETURNING counter", args).fetchone()
        return None if row is None else int(row[0])

    def take(self, scope: str, seen: Lease, owner: str) -> Lease | None:
        switched = int(seen.switches_to(owner))
        with self._lock:
            row = self._db.execute(
                "UPDATE leases SET owner = ?, counter = counter + 1,"
                " owner_switches = owner_switches + ?"
                " WHERE scope = ? AND shard_id = ? AND counter = ?"
                f" RETURNING {_COLUMNS}",
                (owner, switched, scope, seen.shard_id, seen.counter),
            ).fetchone()
        return None if row is None else _lease(row)

    def renew(self, scope: str, shard_id: str, owner: str, counter: int) -> int | None:
        return self._counter(
            "UPDATE leases SET counter = counter + 1"
            " WHERE scope = ? AND shard_id = ? AND owner = ? AND counter = ?",
            (scope, shard_id, owner, counter),
        )

    def checkpoint(
        self, scope: str, shard_id: str, owner: str, counter: int, position: Position
    ) -> int | None:
        return self._counter(
            "UPDATE leases SET checkpoint_sequence = ?, checkpoint_subsequence = ?,"
            " owner_switches = 0, counter = counter + 1"
            " WHERE scope = ? AND shard_id = ? AND owner = ? AND counter = ?",
            (str(position.sequence), position.subsequence, scope, shard_id, owner, counter),
        )

    def release(self, scope: str, shard_id: str, owner: str, counter: int) -> bool:
        return (
            self._counter(
                "UPDATE leases SET owner = NULL, counter = counter + 1"
                " WHERE scope = ? AND shard_id = ? AND owner = ? AND counter = ?",
                (scope, shard_id, owner, counter),
            )
            is not None
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
