"""UpdateStreamWarmThroughput: scale an ON_DEMAND stream now to take this many MiB/s of writes
(one shard per MiB/s), or release capacity with a value at or below the previous one. Needs the
account's minimum throughput billing commitment."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.settings.update_warm_throughput(params)
