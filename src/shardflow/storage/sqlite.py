"""SQLite storage: one database file, WAL mode, one writer thread with group commit.

Records live in one rowid table whose key packs (shard uid, position)::

    rowid = shard_uid << 40 | position

so a shard's records are one contiguous rowid range and reading a shard is a single B-tree range
scan, with no secondary index to maintain on the write path. Positions come from one global
counter assigned by the writer in commit order, so they are strictly increasing in every shard,
and a shard created later (a child of a split) starts above everything before it.

The counter is not rewritten by every commit (that would add a page to each commit's WAL
frames): at start-up it is the larger of the stored high-water mark and the newest record of
every shard. The high-water mark is stored by every metadata transaction (a deleted stream takes
its newest records with it) and at close.

Every write (records and metadata alike) is a job for the single writer connection. The writer
takes every job that is waiting, runs them in one transaction, commits once, and only then
resolves their futures, so a write is acknowledged only after its commit (group commit). Where the
writer runs depends on the durability mode:

- ``memory`` and ``process``: on the event-loop thread, once per loop iteration (``call_soon``), so
  every request that arrived in that iteration shares the commit. A commit that does not fsync
  costs less than handing the work to another thread and back (docs/decisions.md).
- ``fsync``: on a writer thread, so the loop keeps serving while the disk syncs; requests that
  arrive during a sync share the next commit.

A checkpointer thread copies the WAL into the database in the background (PASSIVE checkpoints),
so no commit ever pays for a checkpoint. Readers use their own connection.

Integrity (docs/operations.md): every record carries a CRC32C checked on every read
(``storage.checksum``); each commit's newest position per shard goes to the acknowledgement log
(``storage.acklog``) so start-up can tell when acknowledged records are missing; a full disk
refuses writes with a message and resumes by itself (``storage.diskspace``).

The rowid layout and the read queries are ``storage.records``; the jobs, the group commit and
the record inserts are ``storage.writer``; this module runs them (lifecycle, threads, purges).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from shardflow import errors
from shardflow.clock import SYSTEM_CLOCK, Clock
from shardflow.storage import datadir, schema
from shardflow.storage import records as record_queries
from shardflow.storage.acklog import FILE_NAME as ACK_LOG_FILE
from shardflow.storage.acklog import AckLog
from shardflow.storage.diskspace import DiskFullEpisodes, full_disk_refusal, is_disk_full
from shardflow.storage.records import MAX_SHARD_UID as MAX_SHARD_UID  # re-exported
from shardflow.storage.records import POSITION_BITS, newest_position, record_id, shard_bounds
from shardflow.storage.records import NewRecord as NewRecord  # re-exported
from shardflow.storage.records import StoredRecord as StoredRecord  # re-exported
from shardflow.storage.refusal import damaged
from shardflow.storage.writer import Job, WriterState, append_records, commit, resolve, set_results

log = logging.getLogger(__name__)

DB_FILENAME = "shardflow.sqlite3"
# synchronous settings per durability mode. In WAL mode NORMAL writes each commit to the OS before
# returning (it survives a kill -9 of the process) and FULL also fsyncs the WAL (power loss).
SYNCHRONOUS = {"memory": "OFF", "process": "NORMAL", "fsync": "FULL"}
MAX_JOBS_PER_COMMIT = 4096  # bound a commit so one huge burst cannot stall acknowledgements
CHECKPOINT_INTERVAL_S = 0.5  # how often the checkpointer looks for new WAL frames
# While writes never pause, a PASSIVE checkpoint never catches up with the last frame, so the
# WAL is never restarted and grows with every byte written. Past this many frames (~64 MiB) the
# checkpointer takes a TRUNCATE checkpoint, which holds writers back for the moment it needs.
WAL_TRUNCATE_FRAMES = 16_384
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
PURGE_BATCH_ROWS = 20_000  # records deleted per commit: bounds the pause and the WAL growth


class SqliteStore:
    """The durable store. Safe to call from one event loop; writes run on the writer thread."""

    def __init__(
        self, directory: Path, durability: str = "process", clock: Clock = SYSTEM_CLOCK
    ) -> None:
        if durability not in SYNCHRONOUS:
            raise ValueError(f"durability must be one of {sorted(SYNCHRONOUS)}")
        self.clock = clock  # arrival times; the engine built on this store shares it
        self.directory = directory
        self.path = directory / DB_FILENAME
        self.durability = durability
        self._jobs: list[Job] = []
        self._cond = threading.Condition()
        self._closing = False
        # The event loop the store serves (one per store), kept: asyncio.get_running_loop()
        # costs a getpid() system call per write.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._state = WriterState()
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._inline = durability != "fsync"
        self._inline_jobs: list[Job] = []
        self._checkpoints = threading.Event()  # set: stop checkpointing
        self._checkpointer: threading.Thread | None = None
        self._wrote = False  # since the last checkpoint
        self._purge_wanted = asyncio.Event()
        self._purge_wanted.set()  # finish what a previous run left scheduled
        self.acklog = AckLog(directory / ACK_LOG_FILE)
        self.disk = DiskFullEpisodes(directory)
        self.read_only: str | None = None  # why writes are refused (--accept-data-loss)
        self.corrupt_reads = 0  # reads refused because a record failed its checksum
        self.damage: str | None = None  # what SQLite's integrity check found at open

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Create or open the database and start the writer and checkpointer.

        Raises ``DataDirError`` (one line: the file, what is wrong, what to do) when the data
        directory cannot be served: not a directory, not a database, missing tables, ...
        """
        datadir.prepare(self.directory)
        datadir.prepare_database(self.path)
        datadir.check_regular(self.acklog.path)
        datadir.secure_files(self.directory)
        try:
            conn = self._connect()
            schema.create_or_migrate(conn, self.path)
            self.damage = schema.quick_check(conn, self.path)
            row = conn.execute("SELECT value FROM meta WHERE key='position'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('position', 0)")
        except sqlite3.DatabaseError as exc:
            raise full_disk_refusal(self.path, exc) or damaged(
                self.path, f"SQLite cannot read it ({exc})"
            ) from exc
        try:
            self._state.position = max(int(row[0]) if row else 0, newest_position(conn))
            top = conn.execute("SELECT max(arrival_ms) FROM records").fetchone()[0]
            self._state.last_arrival_ms = int(top or 0)
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:  # damaged records:
            # start-up refuses, or starts read-only (--accept-data-loss)
            self.damage = self.damage or f"the records cannot be read: {exc}"
        self.acklog.load()
        self._state.marks = self.acklog.marks
        self._writer = conn
        self._reader = self._connect()
        if not self._inline:
            self._thread = threading.Thread(
                target=self._writer_loop, args=(conn,), name="shardflow-writer", daemon=True
            )
            self._thread.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop,
            args=(self._connect(),),
            name="shardflow-checkpointer",
            daemon=True,
        )
        self._checkpointer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={SYNCHRONOUS[self.durability]}")
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
        conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        # Freed pages need no zeroing: records are not secrets from the process that owns the
        # file, and zeroing writes every freed page to the WAL again.
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("PRAGMA cache_size=-16000")  # 16 MB page cache per connection
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def start_writing(self) -> None:
        """Open the acknowledgement log for appending (after the start-up loss check)."""
        if self.read_only is None:
            self.acklog.open()

    def close(self, *, refused: bool = False) -> None:
        """Finish every queued write, checkpoint, and close every connection.

        ``refused``: start-up refused the data directory; leave the database exactly as found.
        """
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        elif self._inline_jobs and self._writer is not None:
            self._flush_inline()
        self._checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
        if self._writer is not None and not refused and self.read_only is None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute(
                    "UPDATE meta SET value=? WHERE key='position'", (self._state.position,)
                )
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.acklog.close()

    # -- writes ----------------------------------------------------------------------------

    def submit(
        self, run: Callable[[sqlite3.Connection, WriterState], Any], *, atomic: bool = True
    ) -> asyncio.Future[Any]:
        """Queue ``run(conn, state)`` for the writer; the future resolves after its commit."""
        if self.read_only is not None:
            raise errors.ServiceUnavailable(self.read_only)
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        job = Job(run, loop.create_future(), loop, atomic)
        if self._inline:
            if self._closing:
                raise RuntimeError("store is closed")
            self._inline_jobs.append(job)
            if len(self._inline_jobs) == 1:
                loop.call_soon(self._flush_inline)
            return job.future
        with self._cond:
            if self._closing:
                raise RuntimeError("store is closed")
            self._jobs.append(job)
            if len(self._jobs) == 1:
                self._cond.notify()
        return job.future

    def append(self, records: Sequence[NewRecord]) -> asyncio.Future[list[tuple[int, int]]]:
        """Store records; resolves to their (position, arrival_ms) in order, after commit."""
        return self.submit(
            lambda conn, state: append_records(conn, state, records, self.clock), atomic=False
        )

    def execute(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> asyncio.Future[None]:
        """Run statements as one atomic unit in the next commit."""
        batch = list(statements)

        def run(conn: sqlite3.Connection, state: WriterState) -> None:
            for sql, params in batch:
                conn.execute(sql, params)

        return self.submit(run)

    def _flush_inline(self) -> None:
        jobs, self._inline_jobs = self._inline_jobs, []
        assert self._writer is not None
        self._commit(self._writer, self._state, jobs)
        set_results(jobs)

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        state = self._state
        while True:
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if not self._jobs and self._closing:
                    break
                jobs = self._jobs[:MAX_JOBS_PER_COMMIT]
                del self._jobs[:MAX_JOBS_PER_COMMIT]
            self._commit(conn, state, jobs)
            resolve(jobs)

    def _checkpoint_loop(self, conn: sqlite3.Connection) -> None:
        """Copy committed WAL frames into the database off the write path."""
        while not self._checkpoints.wait(CHECKPOINT_INTERVAL_S):
            if self._wrote:
                self._wrote = False
                try:
                    _busy, frames, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if frames > WAL_TRUNCATE_FRAMES:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as exc:
                    if is_disk_full(exc):
                        self.disk.checkpoint_failed()
                    else:
                        log.exception("checkpoint failed; retrying later")
                    self._wrote = True
                else:
                    self.disk.checkpoint_done()
        conn.close()

    def _commit(self, conn: sqlite3.Connection, state: WriterState, jobs: list[Job]) -> None:
        if commit(conn, state, jobs, self.acklog, self.disk):
            self._wrote = True

    # -- deleting records in the background ----------------------------------------------

    @staticmethod
    def purge_statement(shard_uid: int, up_to_position: int | None) -> tuple[str, tuple[int, int]]:
        """SQL that schedules deleting a shard's records up to a position (None: all of them).

        Run it inside the metadata transaction that makes the records unreachable (a deleted
        stream, a retention sweep); ``purge_forever`` then deletes them in bounded batches.
        """
        up_to = (1 << POSITION_BITS) - 1 if up_to_position is None else up_to_position
        return (
            "INSERT INTO purges VALUES (?, ?)"
            " ON CONFLICT (shard_uid) DO UPDATE SET up_to = max(up_to, excluded.up_to)",
            (shard_uid, up_to),
        )

    def forget_shards(self, shard_uids: list[int]) -> None:
        """Stop expecting records of shards about to be deleted (before the deletion commits)."""
        if self.read_only is None:
            self.acklog.forget(shard_uids)

    def wake_purger(self) -> None:
        self._purge_wanted.set()

    async def purge_forever(self) -> None:
        """Work off scheduled deletions, one bounded batch per commit, yielding in between."""
        while True:
            await self._purge_wanted.wait()
            self._purge_wanted.clear()
            while await self._purge_batch():
                await asyncio.sleep(0)

    async def _purge_batch(self) -> bool:
        """Delete up to PURGE_BATCH_ROWS scheduled records; False when nothing is left."""
        row = self.reader.execute("SELECT shard_uid, up_to FROM purges LIMIT 1").fetchone()
        if row is None:
            return False
        uid, up_to = row
        lo = shard_bounds(uid)[0]
        hi = record_id(uid, up_to)
        cut = self.reader.execute(
            "SELECT id FROM records WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 1 OFFSET ?",
            (lo, hi, PURGE_BATCH_ROWS),
        ).fetchone()

        def run(conn: sqlite3.Connection, state: WriterState) -> None:
            if cut is None:  # the rest fits in this batch: finish the range
                conn.execute("DELETE FROM records WHERE id BETWEEN ? AND ?", (lo, hi))
                conn.execute("DELETE FROM purges WHERE shard_uid=? AND up_to=?", (uid, up_to))
            else:
                conn.execute("DELETE FROM records WHERE id BETWEEN ? AND ?", (lo, cut[0] - 1))

        await self.submit(run, atomic=False)
        return True

    # -- reads (event-loop thread) ---------------------------------------------------------

    @property
    def reader(self) -> sqlite3.Connection:
        assert self._reader is not None, "store not open"
        return self._reader

    @property
    def position(self) -> int:
        """The last position assigned (committed or about to be)."""
        return self._state.position

    def read(
        self, shard_uid: int, from_position: int, limit: int, max_bytes: int
    ) -> record_queries.RecordPage:
        """Up to ``limit`` records of a shard from ``from_position`` on, within ``max_bytes``;
        ``CorruptRecord`` where one fails its checksum (``storage.records``)."""
        return record_queries.read(self.reader, shard_uid, from_position, limit, max_bytes)

    def count_corrupt_read(self) -> None:
        self.corrupt_reads += 1

    def last_record(self, shard_uid: int) -> tuple[int, int] | None:
        """(position, arrival_ms) of a shard's newest record, or None if it has none."""
        return record_queries.last_record(self.reader, shard_uid)

    def first_position(self, shard_uid: int) -> int | None:
        """Position of a shard's oldest stored record, or None if it has none."""
        return record_queries.first_position(self.reader, shard_uid)

    def first_position_at(self, shard_uid: int, arrival_ms: int) -> int | None:
        """Position of the first record that arrived at or after ``arrival_ms``, or None."""
        return record_queries.first_position_at(self.reader, shard_uid, arrival_ms)

    def load(self) -> tuple[dict[str, Any], list[tuple[int, str]], list[tuple[int, int, str]]]:
        """Everything needed to rebuild the engine's metadata: meta, streams, shards."""
        conn = self.reader
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        streams = conn.execute("SELECT uid, doc FROM streams ORDER BY uid").fetchall()
        shards = conn.execute("SELECT uid, stream_uid, doc FROM shards ORDER BY uid").fetchall()
        return meta, streams, shards

    def disk_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(str(self.path) + suffix)
        return total
