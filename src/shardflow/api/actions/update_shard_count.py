"""UpdateShardCount: UNIFORM_SCALING to a target count, by splits and merges."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.resharder.update_shard_count(params)
