"""What the server has acknowledged, per shard, kept outside the database.

Loss detection compares this with what the database holds at start-up. It has to live outside
SQLite: a torn or damaged WAL takes the newest commits with it, and a mark stored in those
commits would vanish with the records it describes. After each commit that stored records, the
writer appends one entry per shard it touched, before any of them is acknowledged::

    entry (32 bytes, little-endian):
    +-----------+----------------+------------------+----------------+-----------+
    | shard uid | last position  | records acked in | arrival_ms of  | CRC32C of |
    |   u32     |     u64        | the shard, u64   | the last, i64  | the 28    |
    +-----------+----------------+------------------+----------------+-----------+

The last entry of a shard wins. An entry whose position is ``FORGOTTEN`` drops the shard (a
deleted stream); it is written *before* the deletion commits, so a lost deletion never looks
like a loss. A torn last entry (crash mid-write) fails its CRC and is ignored. Entries are
written (``write``, no fsync): they survive ``kill -9`` like the database's commits do; after
power loss without fsync the log may lag, which only weakens detection. Past
``COMPACT_AT_BYTES`` the log is rewritten with one entry per shard (write, fsync, rename).
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import google_crc32c

log = logging.getLogger(__name__)

FILE_NAME = "acknowledged.log"
ENTRY = struct.Struct("<IQQq")
CRC = struct.Struct("<I")
ENTRY_SIZE = ENTRY.size + CRC.size  # 32
FORGOTTEN = (1 << 64) - 1  # position of an entry that drops its shard
COMPACT_AT_BYTES = 4 * 1024 * 1024  # ~130,000 entries: history enough to count a torn WAL's loss


@dataclass(slots=True)
class Mark:
    """A shard's newest acknowledged record and how many it has had acknowledged in all."""

    position: int
    count: int
    arrival_ms: int


class AckLog:
    """The acknowledgement log of one data directory. Written by the store's writer only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.marks: dict[int, Mark] = {}
        # (position, count) of every entry read at start, per shard: counts a lost tail exactly
        self.history: dict[int, list[tuple[int, int]]] = {}
        self.existed = False
        self._fd: int | None = None
        self._size = 0
        self._failing = False  # a write failed (full disk): rewrite whole at the next chance
        self._lock = threading.Lock()  # the writer thread records, the loop forgets

    def load(self) -> None:
        """Read the log (absent: nothing acknowledged yet, or a data dir from before it)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        self.existed = True
        for offset in range(0, len(raw) - ENTRY_SIZE + 1, ENTRY_SIZE):
            body = raw[offset : offset + ENTRY.size]
            (crc,) = CRC.unpack_from(raw, offset + ENTRY.size)
            if google_crc32c.value(body) != crc:
                continue  # torn or damaged entry
            uid, position, count, arrival = ENTRY.unpack(body)
            if position == FORGOTTEN:
                self.marks.pop(uid, None)
                self.history.pop(uid, None)
                continue
            self.marks[uid] = Mark(position, count, arrival)
            self.history.setdefault(uid, []).append((position, count))
        self._size = len(raw)

    def open(self) -> None:
        """Start appending (after ``load``), compacting first if the log has grown."""
        if self._size >= COMPACT_AT_BYTES:
            self.compact()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def record(self, touched: dict[int, Mark]) -> None:
        """Note newly committed records (called after the commit, before acknowledging)."""
        for uid, mark in touched.items():
            self.marks[uid] = mark
        self._write(
            b"".join(_entry(uid, m.position, m.count, m.arrival_ms) for uid, m in touched.items())
        )

    def forget(self, shard_uids: list[int]) -> None:
        """Drop shards whose stream is being deleted (before the deletion commits)."""
        for uid in shard_uids:
            self.marks.pop(uid, None)
        self._write(b"".join(_entry(uid, FORGOTTEN, 0, 0) for uid in shard_uids))

    def reset(self, marks: dict[int, Mark]) -> None:
        """Replace every mark (``check-data --repair`` accepting a loss)."""
        self.marks = dict(marks)
        self.compact()

    def _write(self, data: bytes) -> None:
        with self._lock:
            self._append(data)

    def _append(self, data: bytes) -> None:
        if self._fd is None or not data:
            return
        if self._failing:
            with contextlib.suppress(OSError):
                self.compact()
                self._failing = False
            return
        try:
            os.write(self._fd, data)
            self._size += len(data)
        except OSError as exc:
            # The records are committed; only loss detection for them is weakened. The whole
            # log is rewritten at the next chance (e.g. once the disk has room again).
            log.warning("cannot append to %s (%s); will rewrite it", self.path, exc.strerror)
            self._failing = True
            return
        if self._size >= COMPACT_AT_BYTES:
            try:
                self.compact()
            except OSError as exc:
                log.warning("cannot compact %s (%s)", self.path, exc.strerror)

    def compact(self) -> None:
        """Rewrite the log as one entry per shard: write a new file, fsync, rename over."""
        data = b"".join(
            _entry(uid, m.position, m.count, m.arrival_ms) for uid, m in sorted(self.marks.items())
        )
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        self._size = len(data)


def _entry(uid: int, position: int, count: int, arrival_ms: int) -> bytes:
    body = ENTRY.pack(uid, position, count, arrival_ms)
    return body + CRC.pack(google_crc32c.value(body))


def missing_count(log_: AckLog, shard_uid: int, stored_position: int | None) -> tuple[int, bool]:
    """How many acknowledged records of a shard lie after ``stored_position`` (its newest stored
    record, None: none), and whether that count is exact (the log's history reaches back far
    enough) or a lower bound."""
    mark = log_.marks[shard_uid]
    below = -1 if stored_position is None else stored_position
    kept = [count for position, count in log_.history.get(shard_uid, []) if position <= below]
    if kept:
        return mark.count - kept[-1], True
    if stored_position is None:
        return mark.count, False  # every one the log knows of; some may have expired
    entries = log_.history.get(shard_uid, [])
    first = entries[0][1] if entries else mark.count
    return max(1, mark.count - first + 1), False
