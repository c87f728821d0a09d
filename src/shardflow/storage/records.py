"""How records are laid out and read: the rowid of (shard uid, position), and the queries over
a shard's rowid range (no I/O of its own: each function is handed a connection).

    rowid = shard_uid << 40 | position    (POSITION_BITS = 40)
"""

from __future__ import annotations

import sqlite3
import struct
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add, and_
from typing import overload

from shardflow.storage.checksum import CorruptRecord, page_crcs, record_crc

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


class RecordPage(Sequence[StoredRecord]):
    """The records one read returns, held as columns (a GetRecords page is shaped from them
    without a Python object per record), with their total size in bytes (AWS's record size,
    data plus UTF-8 partition key, summed), so that no later step measures them again.
    Indexing and iteration hand out ``StoredRecord``s, made on demand."""

    __slots__ = ("arrivals", "datas", "keys", "positions", "size")

    def __init__(
        self,
        positions: Sequence[int] = (),
        arrivals: Sequence[int] = (),
        keys: Sequence[str] = (),
        datas: Sequence[bytes] = (),
        size: int = 0,
    ) -> None:
        self.positions = positions
        self.arrivals = arrivals
        self.keys = keys
        self.datas = datas
        self.size = size

    @classmethod
    def of(cls, records: Iterable[StoredRecord]) -> RecordPage:
        """A page of ``records`` (measured here)."""
        rows = [(r.position, r.arrival_ms, r.partition_key, r.data) for r in records]
        if not rows:
            return cls()
        positions, arrivals, keys, datas = zip(*rows, strict=True)
        size = sum(map(len, datas)) + sum(len(k.encode("utf-8")) for k in keys)
        return cls(positions, arrivals, keys, datas, size)

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> StoredRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[StoredRecord]: ...

    def __getitem__(self, index: int | slice) -> StoredRecord | list[StoredRecord]:
        if isinstance(index, slice):
            return list(self)[index]
        return StoredRecord(
            self.positions[index], self.arrivals[index], self.keys[index], self.datas[index]
        )

    def __iter__(self) -> Iterator[StoredRecord]:
        return map(StoredRecord, self.positions, self.arrivals, self.keys, self.datas)

    def arrived_since(self, cutoff_ms: int) -> RecordPage:
        """The records that arrived at or after ``cutoff_ms`` (the others are past retention)."""
        return RecordPage.of(r for r in self if r.arrival_ms >= cutoff_ms)


_READ = (
    "SELECT id, arrival_ms, partition_key, data, crc FROM records"
    " WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?"
)
_MASK = (1 << POSITION_BITS) - 1


def read(
    conn: sqlite3.Connection, shard_uid: int, from_position: int, limit: int, max_bytes: int
) -> RecordPage:
    """Up to ``limit`` records of a shard from ``from_position`` on, within ``max_bytes``
    (counted as AWS counts them: data plus the partition key's UTF-8 bytes).

    Every record returned is checked against its CRC32C: one that fails (or rows SQLite cannot
    read) raises ``CorruptRecord`` instead of being returned. The rows are fetched one by one,
    counting keys in characters (a column more would cost a GIL round trip per row in the
    sqlite3 module) so no more than one row past the budget is ever held; they are then checked
    together, column by column in C-level ``map`` calls, and measured exactly (a key's UTF-8
    bytes), which cuts the page again where keys have characters of several bytes.
    """
    rows: list[tuple[int, int, str, bytes, int | None]] = []
    append = rows.append
    size = 0  # characters of the keys, not yet their UTF-8 bytes: at most the page's true size
    try:
        for row in conn.execute(
            _READ, (record_id(shard_uid, from_position), shard_bounds(shard_uid)[1], limit)
        ):
            size += len(row[3]) + len(row[2])
            if size > max_bytes and rows:
                break
            append(row)
    except (sqlite3.DatabaseError, TypeError) as exc:
        # A damaged page (SQLite's own error) or a field without its type (NULL has no len):
        # a damaged record fetched before it is named first, else the read stops here.
        _check_rows(shard_uid, from_position, rows)
        after = (rows[-1][0] & _MASK) + 1 if rows else from_position
        raise CorruptRecord(shard_uid, after, f"the records cannot be read ({exc})") from exc
    if not rows:
        return RecordPage()
    ids, arrivals, keys, datas, crcs = zip(*rows, strict=True)
    try:
        encoded = list(map(str.encode, keys))
        intact = page_crcs(ids, arrivals, encoded, datas) == list(crcs)
    except (TypeError, AttributeError, struct.error):
        intact = False
    if not intact:  # a mismatch, a field without its type, or rows older than checksums
        _check_rows(shard_uid, from_position, rows)
    size = sum(map(len, datas)) + sum(map(len, encoded))
    if size > max_bytes and len(rows) > 1:  # keys of several bytes a character: cut again
        sizes = list(accumulate(map(add, map(len, datas), map(len, encoded))))
        count = max(1, bisect_right(sizes, max_bytes))
        ids, arrivals, keys, datas = ids[:count], arrivals[:count], keys[:count], datas[:count]
        size = sizes[count - 1]
    positions = list(map(and_, ids, repeat(_MASK)))
    return RecordPage(positions, arrivals, keys, datas, size)


def _check_rows(
    shard_uid: int, from_position: int, rows: list[tuple[int, int, str, bytes, int | None]]
) -> None:
    """Check rows one by one: raise ``CorruptRecord`` at the first that fails its checksum or
    cannot be read; rows without a checksum (written before checksums existed) pass."""
    after = from_position  # where the records that can be read end
    for rid, arrival, key, data, crc in rows:
        try:
            if crc is not None and record_crc(rid, arrival, key, data) != crc:
                raise CorruptRecord(shard_uid, rid & _MASK, "the record fails its checksum")
            if type(key) is not str or type(data) is not bytes:
                raise TypeError(f"a {type(key).__name__} key, {type(data).__name__} data")
        except (TypeError, AttributeError, struct.error) as exc:
            raise CorruptRecord(shard_uid, after, f"the records cannot be read ({exc})") from exc
        after = (rid & _MASK) + 1


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
