"""How records are laid out and read: the rowid of (shard uid, position), and the queries over
a shard's rowid range (no I/O of its own: each function is handed a connection).

    rowid = shard_uid << 40 | position    (POSITION_BITS = 40)
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass

from shardflow.storage.checksum import CorruptRecord, crc32c, pack_header

POSITION_BITS = 40  # positions per database lifetime: 1.1e12 records
MAX_SHARD_UID = (1 << 23) - 1  # rowid is a signed 64-bit integer


def record_id(shard_uid: int, position: int) -> int:
    return (shard_uid << POSITION_BITS) | position


def shard_bounds(shard_uid: int) -> tuple[int, int]:
    """The first and last rowid a shard can hold."""
    lo = shard_uid << POSITION_BITS
    return lo, lo + (1 << POSITION_BITS) - 1


@dataclass(slots=True)
class NewRecord:
    """A record waiting for the writer: where it goes and what it holds."""

    shard_uid: int
    partition_key: str
    data: bytes


@dataclass(slots=True)
class StoredRecord:
    position: int
    arrival_ms: int
    partition_key: str
    data: bytes


def newest_position(conn: sqlite3.Connection) -> int:
    """The highest position of any stored record: one index seek per shard."""
    newest = 0
    mask = (1 << POSITION_BITS) - 1
    for (uid,) in conn.execute("SELECT uid FROM shards").fetchall():
        lo, hi = shard_bounds(uid)
        row = conn.execute(
            "SELECT id FROM records WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1", (lo, hi)
        ).fetchone()
        if row is not None:
            newest = max(newest, row[0] & mask)
    return newest


class RecordPage(list[StoredRecord]):
    """The records one read returns, with their total size in bytes (AWS's record size, data
    plus UTF-8 partition key, summed), so that no later step measures them again."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        super().__init__()
        self.size = 0


def read(
    conn: sqlite3.Connection, shard_uid: int, from_position: int, limit: int, max_bytes: int
) -> RecordPage:
    """Up to ``limit`` records of a shard from ``from_position`` on, within ``max_bytes``
    (counted as AWS counts them: data plus the partition key's UTF-8 bytes).

    Every record is checked against its CRC32C: one that fails (or rows SQLite cannot read)
    raises ``CorruptRecord`` instead of being returned.
    """
    lo = record_id(shard_uid, from_position)
    hi = shard_bounds(shard_uid)[1]
    mask = (1 << POSITION_BITS) - 1
    out = RecordPage()
    append = out.append
    size = 0
    try:
        cur = conn.execute(
            "SELECT id, arrival_ms, partition_key, data, crc FROM records"
            " WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?",
            (lo, hi, limit),
        )
        for rid, arrival, key, data, crc in cur:
            key_bytes = key.encode("utf-8")  # once: for the checksum and for the size
            # ``checksum.record_crc``, inlined: a call less per record on the hottest loop
            if crc is not None and crc32c(pack_header(rid, arrival) + key_bytes + data) != crc:
                raise CorruptRecord(shard_uid, rid & mask, "the record fails its checksum")
            size += len(data) + len(key_bytes)
            if size > max_bytes and out:
                size -= len(data) + len(key_bytes)
                break
            append(StoredRecord(rid & mask, arrival, key, data))
    except (sqlite3.DatabaseError, TypeError, AttributeError, struct.error) as exc:
        # A damaged page: SQLite's own error, or a field that no longer has its type.
        after = out[-1].position + 1 if out else from_position
        raise CorruptRecord(shard_uid, after, f"the records cannot be read ({exc})") from exc
    out.size = size
    return out


def last_record(conn: sqlite3.Connection, shard_uid: int) -> tuple[int, int] | None:
    """(position, arrival_ms) of a shard's newest record, or None if it has none."""
    lo, hi = shard_bounds(shard_uid)
    row = conn.execute(
        "SELECT id, arrival_ms FROM records WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1",
        (lo, hi),
    ).fetchone()
    return None if row is None else (row[0] & ((1 << POSITION_BITS) - 1), row[1])


def first_position(conn: sqlite3.Connection, shard_uid: int) -> int | None:
    """Position of a shard's oldest stored record, or None if it has none."""
    lo, hi = shard_bounds(shard_uid)
    row = conn.execute(
        "SELECT id FROM records WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 1", (lo, hi)
    ).fetchone()
    return None if row is None else row[0] & ((1 << POSITION_BITS) - 1)


def first_position_at(conn: sqlite3.Connection, shard_uid: int, arrival_ms: int) -> int | None:
    """Position of the first record that arrived at or after ``arrival_ms``, or None.

    Arrival times never decrease along a shard, so this is a binary search over the rowid
    range: a few point lookups, no index on arrival time.
    """
    lo, hi = shard_bounds(shard_uid)
    first = conn.execute(
        "SELECT id FROM records WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 1", (lo, hi)
    ).fetchone()
    if first is None:
        return None
    last = last_record(conn, shard_uid)
    low, high = first[0], record_id(shard_uid, last[0]) if last else hi
    answer = None
    query = "SELECT id, arrival_ms FROM records WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 1"
    while low <= high:
        mid = (low + high) // 2
        row = conn.execute(query, (mid, high)).fetchone()
        if row is None:
            high = mid - 1
        elif row[1] >= arrival_ms:
            answer, high = row[0], mid - 1  # an earlier match may lie left of mid
        else:
            low = row[0] + 1  # arrivals never decrease: nothing up to row[0] matches
    return None if answer is None else answer & ((1 << POSITION_BITS) - 1)
