"""The writer's side of the store: jobs, the state a commit carries from one to the next, one
group commit, and handing the results back to the event loops that asked (after the commit).

``SqliteStore`` decides where the writer runs (inline on the loop, or on a thread in ``fsync``
mode); everything here runs wherever that is, on the writer connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shardflow.clock import Clock
from shardflow.storage.acklog import AckLog, Mark
from shardflow.storage.checksum import record_crc
from shardflow.storage.diskspace import DiskFullEpisodes, is_disk_full
from shardflow.storage.records import POSITION_BITS, NewRecord

log = logging.getLogger("shardflow.storage.sqlite")  # the store's log, as before the split


@dataclass
class Job:
    """One unit of work for the writer, resolved on ``loop`` once committed."""

    run: Callable[[sqlite3.Connection, WriterState], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    atomic: bool  # may fail on its own: runs in a savepoint so it fails alone
    result: Any = None
    error: BaseException | None = None


@dataclass
class WriterState:
    position: int = 0  # last assigned position
    last_arrival_ms: int = 0
    dirty: bool = False
    pending: list[Job] = field(default_factory=list)
    marks: dict[int, Mark] = field(default_factory=dict)  # acknowledged, per shard
    touched: dict[int, Mark] = field(default_factory=dict)  # new marks of this commit


def commit(
    conn: sqlite3.Connection,
    state: WriterState,
    jobs: list[Job],
    acklog: AckLog,
    disk: DiskFullEpisodes,
) -> bool:
    """Run ``jobs`` in one transaction; whether it committed (each job's result or error is set,
    a failed commit sets every job's error). Nothing is acknowledged here: see ``resolve``."""
    start_position = state.position
    start_arrival = state.last_arrival_ms
    state.touched = {}
    try:
        conn.execute("BEGIN IMMEDIATE")
        for job in jobs:
            if not job.atomic:
                job.result = job.run(conn, state)
                continue
            conn.execute("SAVEPOINT job")
            try:
                job.result = job.run(conn, state)
                conn.execute("RELEASE job")
            except sqlite3.Error as exc:
                if not isinstance(exc, sqlite3.IntegrityError):
                    raise
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                job.error = exc
            except Exception as exc:  # a job's own error fails that job only
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                job.error = exc
        if any(job.atomic for job in jobs):  # metadata: store the high-water mark with it
            conn.execute("UPDATE meta SET value=? WHERE key='position'", (state.position,))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        state.position = start_position
        state.last_arrival_ms = start_arrival
        error: BaseException = exc
        if is_disk_full(exc):
            disk.refused_writes(len(jobs))
            error = disk.error()
        else:
            log.exception("commit failed; %d writes refused", len(jobs))
        for job in jobs:
            job.error = error
        return False
    if state.touched:  # before anything is acknowledged
        acklog.record(state.touched)
    if disk.full:
        disk.committed()
    return True


def append_records(
    conn: sqlite3.Connection, state: WriterState, records: Sequence[NewRecord], clock: Clock
) -> list[tuple[int, int]]:
    """Insert records at the next positions; their (position, arrival_ms), in order."""
    # Arrival times never go backwards in a shard.
    arrival = max(clock.now_ms(), state.last_arrival_ms)
    state.last_arrival_ms = arrival
    first = state.position + 1
    state.position += len(records)
    rows = []
    counts: dict[int, int] = {}
    newest: dict[int, int] = {}
    for i, r in enumerate(records):
        uid = r.shard_uid
        rid = (uid << POSITION_BITS) | (first + i)
        rows.append(
            (
                rid,
                arrival,
                r.partition_key,
                r.data,
                record_crc(rid, arrival, r.partition_key, r.data),
            )
        )
        counts[uid] = counts.get(uid, 0) + 1
        newest[uid] = first + i
    touched = state.touched
    for uid, added in counts.items():
        mark = touched.get(uid) or state.marks.get(uid)
        touched[uid] = Mark(newest[uid], (mark.count if mark else 0) + added, arrival)
    conn.executemany(
        "INSERT INTO records (id, arrival_ms, partition_key, data, crc) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    return [(first + i, arrival) for i in range(len(records))]


def resolve(jobs: list[Job]) -> None:
    """Hand results back to their loops: one wake-up per loop, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Job]] = {}
    for job in jobs:
        by_loop.setdefault(job.loop, []).append(job)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # loop already closed at shutdown
            loop.call_soon_threadsafe(set_results, group)


def set_results(jobs: list[Job]) -> None:
    for job in jobs:
        if job.future.done():
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)
