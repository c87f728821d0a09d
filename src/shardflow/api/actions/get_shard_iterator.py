"""GetShardIterator: an opaque, expiring position in one shard."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return {"ShardIterator": engine.get_shard_iterator(params)}
