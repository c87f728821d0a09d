"""GetShardIterator: an opaque, expiring position in one shard.

A dry run makes every check (stream, shard, iterator type and its sequence number or timestamp),
then answers without issuing an iterator.
"""

from __future__ import annotations

from typing import Any

from shardflow.engine import dry_run
from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if dry_run.requested(params):
        stream, _, _ = engine.reads.start_position(params)
        dry_run.conclude(engine.limits, stream.name)
    return {"ShardIterator": engine.reads.get_shard_iterator(params)}
