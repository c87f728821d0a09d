"""A CRC32C per stored record, so a damaged record is refused instead of served.

The checksum covers everything a reader is handed and where it sits::

    crc = CRC32C( rowid (8 bytes LE) | arrival_ms (8 bytes LE) | partition key (UTF-8) | data )

The rowid packs (shard uid, position), so a record whose key bits changed (a record that would
appear in the wrong shard or at the wrong position) fails too, not only a changed payload.
Rows written before checksums existed hold NULL: they cannot be verified and are served as they
are (``shardflow check-data`` counts them).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import google_crc32c

pack_header = struct.Struct("<qq").pack  # rowid, arrival_ms: the checksum's first 16 bytes
crc32c = google_crc32c.value


def record_crc(rowid: int, arrival_ms: int, partition_key: str, data: bytes) -> int:
    """The record's CRC32C: one call into the C library over the joined bytes (copying 1 KiB
    costs less than a second call: 300 ns against 360 ns per 1 KiB record)."""
    return int(crc32c(pack_header(rowid, arrival_ms) + partition_key.encode("utf-8") + data))


def page_crcs(
    rowids: Iterable[int],
    arrivals_ms: Iterable[int],
    keys_utf8: Iterable[bytes],
    datas: Iterable[bytes],
) -> list[int]:
    """``record_crc`` of a page's records, column by column in C-level ``map`` calls (the read
    path passes the keys already encoded: it measures their UTF-8 size too)."""
    covered = map(
        b"".join, zip(map(pack_header, rowids, arrivals_ms), keys_utf8, datas, strict=True)
    )
    return list(map(crc32c, covered))


class CorruptRecord(Exception):
    """A stored record failed its checksum, or its rows could not be read at all."""

    def __init__(self, shard_uid: int, position: int, reason: str) -> None:
        super().__init__(f"shard uid {shard_uid} position {position}: {reason}")
        self.shard_uid = shard_uid
        self.position = position
        self.reason = reason
