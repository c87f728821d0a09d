"""SplitShard: close a shard and open two children that divide its hash-key range."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.resharder.split(params)
    return {}
