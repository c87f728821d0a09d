"""Hash keys and even shard ranges."""

from __future__ import annotations

import hashlib

from shardflow.model import hashing


def test_partition_hash_is_md5_big_endian() -> None:
    expected = int(hashlib.md5(b"taxi-7").hexdigest(), 16)
    assert hashing.partition_hash("taxi-7") == expected


def test_even_ranges_partition_the_space_exactly() -> None:
    for n in (1, 2, 3, 7, 100):
        ranges = hashing.even_ranges(n)
        assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
        step = 2**128 // n
        for i, (start, end) in enumerate(ranges[:-1]):
            assert (start, end) == (i * step, (i + 1) * step - 1)
            assert ranges[i + 1][0] == end + 1
