"""Hash keys and shard hash-key ranges (pure math, no I/O).

Kinesis maps a record to a shard by the MD5 of its partition key, read as a 128-bit big-endian
integer, or by an explicit hash key; each open shard owns one contiguous range of that space.
"""

from __future__ import annotations

import hashlib

HASH_KEY_SPACE = 1 << 128  # MD5 output space; ExplicitHashKey must be below it
MAX_HASH_KEY = HASH_KEY_SPACE - 1


def partition_hash(partition_key: str) -> int:
    """The 128-bit hash key AWS derives from a partition key."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def even_ranges(shard_count: int) -> list[tuple[int, int]]:
    """Split the hash-key space into ``shard_count`` ranges as CreateStream does.

    step = floor(2^128 / N); shard i covers [i*step, (i+1)*step - 1] and the last shard runs to
    2^128 - 1, absorbing the remainder.
    """
    step = HASH_KEY_SPACE // shard_count
    ranges = [(i * step, (i + 1) * step - 1) for i in range(shard_count)]
    ranges[-1] = (ranges[-1][0], MAX_HASH_KEY)
    return ranges
