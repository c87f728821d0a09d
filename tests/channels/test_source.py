"""``delivery.source.collect``: one consistent cut through every shard, bounded in memory, and
the same cut when a range is read again (what makes redelivered S3 keys the same)."""

from __future__ import annotations

import asyncio

from shardflow.delivery.source import collect
from shardflow.engine.reading import ReadResult
from shardflow.engine.streams import Shard, Stream
from shardflow.storage.records import RecordPage
from shardflow.storage.sqlite import StoredRecord


def _stream() -> tuple[Stream, dict[int, list[StoredRecord]]]:
    stream = Stream(
        uid=1,
        name="s",
        arn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
        created_ms=0,
        status="ACTIVE",
        ready_at_ms=0,
    )
    for index in range(2):
        stream.shards.append(
            Shard(
                uid=10 + index,
                stream_uid=1,
                index=index,
                hash_start=0,
                hash_end=1,
                start_position=0,
                created_ms=0,
            )
        )
    # Positions are global: shard 0 holds the odd ones, shard 1 the even ones.
    records = {
        10: [StoredRecord(p, p, "k", b"x" * 10) for p in range(1, 41, 2)],
        11: [StoredRecord(p, p, "k", b"x" * 10) for p in range(2, 41, 2)],
    }
    return stream, records


def _reader(records: dict[int, list[StoredRecord]]):  # type: ignore[no-untyped-def]
    def read_shard(stream: Stream, shard: Shard, position: int, limit: int, max_bytes: int):
        found = [r for r in records[shard.uid] if r.position >= position][:3]
        return ReadResult(RecordPage.of(found), stream.name, shard.index, None, 0, [])

    return read_shard


def test_a_range_is_every_shard_in_position_order() -> None:
    stream, records = _stream()
    got, reached = asyncio.run(collect(stream, _reader(records), 10, 30))
    assert reached == 30
    assert [r.position for r in got] == list(range(11, 31))
    assert {r.shard_id for r in got} == {"shardId-000000000000", "shardId-000000000001"}


def test_a_full_cycle_stops_at_a_cut_below_which_nothing_is_missing() -> None:
    stream, records = _stream()
    got, reached = asyncio.run(collect(stream, _reader(records), 0, 40, max_bytes=105))
    assert reached < 40
    assert [r.position for r in got] == list(range(1, reached + 1))
    again, reached_again = asyncio.run(collect(stream, _reader(records), 0, 40, max_bytes=105))
    assert (again, reached_again) == (got, reached)
