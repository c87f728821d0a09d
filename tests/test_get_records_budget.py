"""GetRecords' 10 MiB per-call budget counts a record as AWS sizes it: its data plus its partition
key's UTF-8 bytes, not the key's characters.

Eleven records of ~0.95 MB whose 256-character keys are 4-byte characters (1,024 bytes each) add
up to more than 10 MiB in bytes but less in characters: the first call must stop at ten. The
same records with ASCII keys (256 bytes each) fit in one call, so the difference is the key's
encoding alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import iterator, shard_id, temp_stream

CALL_BUDGET = 10 * 1024 * 1024  # AWS: at most 10 MiB per GetRecords call
RECORDS = 11
DATA_BYTES = 952_600  # 11 x (data + 1,024-byte key) > 10 MiB >= 11 x (data + 256)


def _first_call_count(kinesis: Any, key: str) -> tuple[int, int]:
    """Records returned by the first GetRecords call from TRIM_HORIZON, and by all calls."""
    with temp_stream(kinesis) as name:
        for i in range(RECORDS):
            kinesis.put_record(StreamName=name, Data=bytes([i]) * DATA_BYTES, PartitionKey=key)
        first = kinesis.get_records(ShardIterator=iterator(kinesis, name, shard_id(0)))
        total = len(first["Records"])
        following = kinesis.get_records(ShardIterator=first["NextShardIterator"])
        total += len(following["Records"])
        assert [r["Data"][0] for r in first["Records"] + following["Records"]] == list(
            range(RECORDS)
        )
        return len(first["Records"]), total


@pytest.mark.parametrize(
    ("key", "expected_first"),
    [
        ("\N{GRINNING FACE}" * 256, RECORDS - 1),  # 4 UTF-8 bytes a character: 1,024 bytes
        ("k" * 256, RECORDS),  # 256 bytes
    ],
    ids=["four-byte-key", "ascii-key"],
)
def test_call_budget_counts_partition_key_bytes(
    kinesis: Any, key: str, expected_first: int
) -> None:
    key_bytes = len(key.encode("utf-8"))
    assert RECORDS * (DATA_BYTES + len(key)) <= CALL_BUDGET  # fits, counted in characters
    first, total = _first_call_count(kinesis, key)
    assert first == expected_first, f"{key_bytes}-byte keys: {first} records in the first call"
    assert total == RECORDS  # nothing skipped: the next call starts where the first stopped
