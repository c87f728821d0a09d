"""CreateStream: a PROVISIONED stream of ShardCount shards, or an ON_DEMAND one of 4.

WarmThroughputMiBps is validated and accepted; it has no effect until throughput limits exist.
"""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.streams import DEFAULT_MAX_RECORD_KIB


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    await engine.create_stream(
        params["StreamName"],
        params.get("ShardCount"),
        mode,
        params.get("Tags") or {},
        params.get("MaxRecordSizeInKiB") or DEFAULT_MAX_RECORD_KIB,
    )
    return {}
