"""UpdateStreamWarmThroughput: the write throughput an ON_DEMAND stream keeps ready."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.settings.update_warm_throughput(params)
