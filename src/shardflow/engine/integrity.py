"""Integrity at the engine's level: acknowledged records missing at start, damaged records read.

At start, each shard's acknowledged mark (``storage.acklog``) is compared with the newest record
the database holds. A shard whose newest acknowledged record is gone, though still inside its
stream's retention period, has lost records: the server refuses to start (default) or, with
``--accept-data-loss``, starts read-only, so that no new record can take a sequence number a
client already holds. A shard that is in the log but in no stream lost its metadata too.

A record that fails its checksum is never served: the read fails with InternalFailureException
(the error AWS's model lists for GetRecords and SubscribeToShard's event stream) and a message
naming the shard and sequence number, the log says the same once per record, and
``SqliteStore.corrupt_reads`` counts every refused read (``shardflow_corrupt_record_reads``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shardflow import errors
from shardflow.engine.streams import Shard, Stream
from shardflow.model import sequence
from shardflow.storage.acklog import AckLog, missing_count
from shardflow.storage.checksum import CorruptRecord
from shardflow.storage.refusal import ACCEPT, CHECK, REPAIR, RESTORE, DataDirError
from shardflow.storage.sqlite import SqliteStore

log = logging.getLogger(__name__)

MAX_NAMED = 5  # shards named in the one-line refusal; the log lists them all


@dataclass(frozen=True)
class Loss:
    """Acknowledged records of one shard that the database no longer holds."""

    where: str  # "stream S shard shardId-..." or "shard uid N (no stream has it)"
    missing: int
    exact: bool
    after_sequence: str | None  # the newest record still stored (None: none is)

    def describe(self) -> str:
        count = f"{self.missing}" if self.exact else f"about {self.missing}"
        after = f" after {self.after_sequence}" if self.after_sequence else ""
        return f"{self.where}: {count} acknowledged records missing{after}"


def find_losses(
    acklog: AckLog,
    last_record: Callable[[int], tuple[int, int] | None],
    streams: Iterable[Stream],
    now_ms: int,
) -> list[Loss]:
    """Every shard whose acknowledged records (``acklog``) are not all in the database (whose
    newest record per shard uid ``last_record`` gives)."""
    marks = acklog.marks
    if not marks:
        return []
    shards: dict[int, tuple[Stream, Shard]] = {
        shard.uid: (stream, shard) for stream in streams for shard in stream.shards
    }
    losses = []
    for uid, mark in sorted(marks.items()):
        found = shards.get(uid)
        try:
            stored = last_record(uid)
        except sqlite3.DatabaseError:  # unreadable: none of its records can be counted on
            stored = None
        stored_position = stored[0] if stored else None
        if stored_position is not None and stored_position >= mark.position:
            continue
        if found is None:
            missing, exact = missing_count(acklog, uid, stored_position)
            losses.append(Loss(f"shard uid {uid} (in no stream)", missing, exact, None))
            continue
        stream, shard = found
        if mark.arrival_ms < now_ms - stream.retention_hours * 3_600_000:
            continue  # past retention: deleted on purpose
        missing, exact = missing_count(acklog, uid, stored_position)
        after = None if stored_position is None else sequence.encode(shard.index, stored_position)
        where = f"stream {stream.name} shard {shard.shard_id}"
        losses.append(Loss(where, missing, exact, after))
    return losses


def check_at_start(
    store: SqliteStore, streams: Iterable[Stream], now_ms: int, accept: bool
) -> None:
    """Refuse to start on lost records or a database that fails SQLite's integrity check, or
    (``accept``) make the store read-only and say so."""
    if store.damage is not None:
        problem = f"SQLite's integrity check fails ({store.damage})"
        _refuse_or_read_only(store, problem, accept, "a damaged database")
    losses = find_losses(store.acklog, store.last_record, streams, now_ms)
    if not losses:
        return
    total = sum(loss.missing for loss in losses)
    for loss in losses:
        log.error("data loss: %s", loss.describe())
    named = "; ".join(loss.describe() for loss in losses[:MAX_NAMED])
    more = f" (and {len(losses) - MAX_NAMED} more shards)" if len(losses) > MAX_NAMED else ""
    problem = (
        f"{total} acknowledged records are missing from {store.path.name} in"
        f" {len(losses)} shards: {named}{more}"
    )
    _refuse_or_read_only(store, problem, accept, f"{total} acknowledged records missing")


def _refuse_or_read_only(store: SqliteStore, problem: str, accept: bool, found: str) -> None:
    if not accept:
        raise DataDirError(store.path, problem, f"{RESTORE}, {CHECK}, {REPAIR}, or {ACCEPT}")
    store.read_only = (
        f"This server started with --accept-data-loss after finding {found}, and is read-only:"
        " writes are refused until `shardflow check-data --repair` has repaired the data"
        " directory and the server is restarted."
    )
    log.error("starting read-only (--accept-data-loss): %s", problem)


def corrupt_read(
    store: SqliteStore, stream: Stream, shard: Shard, exc: CorruptRecord, account: str
) -> errors.KinesisError:
    """The error for a read that met a damaged record: logged, counted, never served."""
    store.count_corrupt_read()
    seq = sequence.encode(shard.index, exc.position)
    key = (shard.uid, exc.position)
    if key not in _logged:
        _logged.add(key)
        log.error(
            "damaged record not served: stream %s shard %s at position %d (sequence number %s):"
            " %s; run `shardflow check-data`",
            stream.name,
            shard.shard_id,
            exc.position,
            seq,
            exc.reason,
        )
    return errors.InternalFailureException(
        f"The record at sequence number {seq} in shard {shard.shard_id} of stream {stream.name}"
        f" under account {account} is damaged on the server's disk ({exc.reason}) and is not"
        " served. The server's operator can run `shardflow check-data`."
    )


_logged: set[tuple[int, int]] = set()  # (shard uid, position): each damaged record logged once
