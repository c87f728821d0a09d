"""put_many_nowait (the taxi command's burst path) against a real server: per-key order under
entry and call failures, read back by aws-kinesis-agg; all or none when the buffer is full or a
record is too large."""

from __future__ import annotations

import asyncio
import json
from typing import Any, NamedTuple

import pytest

from shardflow.producer import BufferFullError
from shardflow.producer.errors import RecordTooLargeError
from tests.producer.conftest import (
    FaultServer,
    check_order,
    new_stream,
    ordered_producer,
    read_user_records,
)

KEYS = 40
BURST = 64


class Rec(NamedTuple):
    partition_key: str
    data: bytes


def _records(count: int) -> list[Rec]:
    counters = [0] * KEYS
    out = []
    for i in range(count):
        key = (i * 7919) % KEYS
        counters[key] += 1
        k = f"taxi-{key:03d}"
        # every 97th record too big to share an aggregate: it goes through append's plain path
        pad = "y" * 2000 if i % 97 == 0 else "x" * 60
        out.append(Rec(k, json.dumps({"k": k, "n": counters[key], "pad": pad}).encode()))
    return out


def test_bursts_keep_key_order_under_failures(faults: FaultServer) -> None:
    faults.set_faults(
        {"PutRecords": {"entry_throttle": 0.25, "entry_internal": 0.05, "internal": 0.05}}
    )
    client, stream = new_stream(faults.endpoint, 3)
    count = 3000
    producer = ordered_producer(
        stream, faults.endpoint, aggregation_max_bytes=2048, backoff_max=0.05
    )
    records = _records(count)

    async def main() -> list[Any]:
        futures = []
        async with producer:
            for i in range(0, count, BURST):
                futures += producer.put_many_nowait(records[i : i + BURST])
                await asyncio.sleep(0)
        return futures

    futures = asyncio.run(main())
    assert len(futures) == count
    assert all(f.done() and f.exception() is None for f in futures)
    stats = producer.stats()
    assert stats["Throttles"] > 0 and stats["UserRecordsPut"] == count, stats
    faults.clear_faults()
    written = read_user_records(client, stream)
    per_key = check_order(written)
    for key, counters in per_key.items():
        assert counters == list(range(1, len(counters) + 1)), key  # in order, no duplicate
    assert sum(len(v) for v in per_key.values()) == count
    assert any(r["aggregated"] for r in written) and not all(r["aggregated"] for r in written)
    # each future names the shard its record was read back from
    shard_of = {(r["key"], json.loads(r["data"])["n"]): r["shard"] for r in written}
    for rec, fut in zip(records, futures, strict=True):
        assert fut.result().shard_id == shard_of[(rec.partition_key, json.loads(rec.data)["n"])]


def test_all_or_none_when_full_or_too_large(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 1)
    producer = ordered_producer(stream, endpoint, max_buffered_records=10, linger=5.0)

    async def main() -> None:
        async with producer:
            with pytest.raises(BufferFullError):
                producer.put_many_nowait(_records(11))
            assert producer.buffered_records == 0
            too_big = Rec("k", b"z" * (1 << 20))
            with pytest.raises(RecordTooLargeError):
                producer.put_many_nowait([*_records(3), too_big])
            assert producer.buffered_records == 0
            futures = producer.put_many_nowait(_records(10))
            assert producer.buffered_records == 10
            with pytest.raises(BufferFullError):
                producer.put_many_nowait(_records(1))
        assert all(f.done() and f.exception() is None for f in futures)

    asyncio.run(main())
    assert len(read_user_records(client, stream)) == 10
