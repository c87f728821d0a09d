"""CreateStream: a PROVISIONED stream of ShardCount shards, or an ON_DEMAND one of 4."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    await engine.create_stream(
        params["StreamName"], params.get("ShardCount"), mode, params.get("Tags") or {}
    )
    return {}
