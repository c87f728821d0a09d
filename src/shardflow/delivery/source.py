"""The records a delivery takes from a stream: every shard's records in a range of store
positions, through the engine's read path (``Reads.read_shard``), in position order.

Store positions are global and increase in commit order, so ``(after, up_to]`` is one
consistent cut through every shard: a parent's records all come before its children's, and
each shard's records keep their order. KPL aggregates are delivered as the user records they
hold (as the KCL and Firehose read them), in their order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from shardflow.engine.reading import ReadShard
from shardflow.engine.streams import Shard, Stream
from shardflow.model import kpl, sequence

READ_LIMIT = 10_000  # records per read, GetRecords' maximum
READ_MAX_BYTES = 10 * 1024 * 1024  # bytes per read, GetRecords' maximum
# Record bytes one delivery cycle holds in memory; a larger backlog takes several cycles.
MAX_CYCLE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Delivered:
    """One record on its way to a destination."""

    position: int
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival_ms: int
    data: bytes
    subsequence: int = 0  # the user record's index in a KPL aggregate


async def collect(
    stream: Stream,
    read_shard: ReadShard,
    after: int,
    up_to: int,
    max_bytes: int = MAX_CYCLE_BYTES,
) -> tuple[list[Delivered], int]:
    """Every record of ``stream`` with a store position in ``(after, reached]``, by position,
    and ``reached``: ``up_to``, or lower when the records would pass ``max_bytes``. The cut
    depends only on the stored records, so reading the same range again cuts it the same."""
    out: list[Delivered] = []
    budget = [max_bytes]
    reached = up_to
    for shard in list(stream.shards):
        if shard.end_position is not None and shard.end_position <= after:
            continue  # closed before the range
        if shard.start_position > reached:
            continue  # opened after it
        records, reached = await _read(stream, shard, read_shard, after, reached, budget)
        out.extend(records)
    out = [r for r in out if r.position <= reached]  # shards read before the cut was lowered
    out.sort(key=lambda r: (r.position, r.subsequence))
    return out, reached


async def _read(
    stream: Stream,
    shard: Shard,
    read_shard: ReadShard,
    after: int,
    up_to: int,
    budget: list[int],
) -> tuple[list[Delivered], int]:
    out: list[Delivered] = []
    position = after + 1
    while True:
        result = read_shard(stream, shard, position, READ_LIMIT, READ_MAX_BYTES)
        if not result.records:
            return out, up_to
        for r in result.records:
            if r.position > up_to:
                return out, up_to
            if budget[0] < len(r.data) and out:
                return out, r.position - 1  # the cycle is full: stop below this record
            budget[0] -= len(r.data)
            seq = sequence.encode(shard.index, r.position)
            out.extend(
                Delivered(r.position, shard.shard_id, seq, u.partition_key, r.arrival_ms, u.data, i)
                for i, u in enumerate(kpl.deaggregate(r.partition_key, r.data))
            )
        position = result.records[-1].position + 1
        await asyncio.sleep(0)  # let requests in between reads
