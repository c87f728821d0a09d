"""The records a delivery takes from a stream: every shard's records in a range of store
positions, through the engine's read path (``Reads.read_shard``), in position order.

Store positions are global and increase in commit order, so ``(after, up_to]`` is one
consistent cut through every shard: a parent's records all come before its children's, and
each shard's records keep their order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from shardflow.engine.reading import ReadShard
from shardflow.engine.streams import Shard, Stream
from shardflow.model import sequence

READ_LIMIT = 10_000  # records per read, GetRecords' maximum
READ_MAX_BYTES = 10 * 1024 * 1024  # bytes per read, GetRecords' maximum


@dataclass(frozen=True, slots=True)
class Delivered:
    """One record on its way to a destination."""

    position: int
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival_ms: int
    data: bytes


async def collect(stream: Stream, read_shard: ReadShard, after: int, up_to: int) -> list[Delivered]:
    """Every record of ``stream`` with a store position in ``(after, up_to]``, by position."""
    out: list[Delivered] = []
    for shard in list(stream.shards):
        if shard.end_position is not None and shard.end_position <= after:
            continue  # closed before the range
        if shard.start_position > up_to:
            continue  # opened after it
        out.extend(await _read(stream, shard, read_shard, after, up_to))
    out.sort(key=lambda r: r.position)
    return out


async def _read(
    stream: Stream, shard: Shard, read_shard: ReadShard, after: int, up_to: int
) -> list[Delivered]:
    out: list[Delivered] = []
    position = after + 1
    while True:
        result = read_shard(stream, shard, position, READ_LIMIT, READ_MAX_BYTES)
        if not result.records:
            return out
        for r in result.records:
            if r.position > up_to:
                return out
            out.append(
                Delivered(
                    r.position,
                    shard.shard_id,
                    sequence.encode(shard.index, r.position),
                    r.partition_key,
                    r.arrival_ms,
                    r.data,
                )
            )
        position = result.records[-1].position + 1
        await asyncio.sleep(0)  # let requests in between reads
