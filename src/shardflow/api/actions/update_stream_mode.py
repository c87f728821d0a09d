"""UpdateStreamMode: switch a stream between PROVISIONED and ON_DEMAND capacity, keeping its
shards; WarmThroughputMiBps (to ON_DEMAND) warms it as UpdateStreamWarmThroughput does."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if params["StreamModeDetails"]["StreamMode"] == "PROVISIONED":  # queues need ON_DEMAND
        engine.queues.check_stream_change(params, "UpdateStreamMode")
    await engine.settings.update_mode(params)
    return {}
