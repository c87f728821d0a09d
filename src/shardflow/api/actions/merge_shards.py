"""MergeShards: close two adjacent shards and open one child covering both ranges."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.resharder.merge(params)
    return {}
