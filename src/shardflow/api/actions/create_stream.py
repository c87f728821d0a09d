"""CreateStream: a PROVISIONED stream of ShardCount shards, or an ON_DEMAND one of 4.

Tags follow AddTagsToStream's rules. WarmThroughputMiBps (ON_DEMAND only, with the account's
billing commitment) creates the shards it needs at once; RecordDistributionStrategy AUTO (ON_DEMAND
only) spreads records over the shards whatever their keys.
"""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.streams import DEFAULT_MAX_RECORD_KIB
from shardflow.engine.tags import check_tags


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    tags = params.get("Tags") or {}
    if tags:
        check_tags(tags, {}, f"stream {params['StreamName']}", engine.config.account_id)
    engine.settings.check_new_stream_capacity(
        params["StreamName"],
        mode,
        params.get("WarmThroughputMiBps"),
        params.get("RecordDistributionStrategy"),
    )
    await engine.create_stream(
        params["StreamName"],
        params.get("ShardCount"),
        mode,
        tags,
        params.get("MaxRecordSizeInKiB") or DEFAULT_MAX_RECORD_KIB,
        warm_throughput_mibps=params.get("WarmThroughputMiBps"),
        record_distribution=params.get("RecordDistributionStrategy"),
    )
    return {}
