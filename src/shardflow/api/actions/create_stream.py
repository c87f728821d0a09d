"""CreateStream: a PROVISIONED stream of ShardCount shards, or an ON_DEMAND one of 4.

Tags follow AddTagsToStream's rules. WarmThroughputMiBps (ON_DEMAND only, with the account's
billing commitment) creates the shards it needs at once; RecordDistributionStrategy AUTO (ON_DEMAND
only) spreads records over the shards whatever their keys. The request's own rules (tags, the
fields only ON_DEMAND takes) are checked before this handler, in ``api.validation.checks``.
"""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.streams import DEFAULT_MAX_RECORD_KIB
from shardflow.model.enums import StreamMode


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode", StreamMode.PROVISIONED)
    tags = params.get("Tags") or {}
    warm = params.get("WarmThroughputMiBps")
    if warm is not None:  # ON_DEMAND: the pipeline's checks refuse it for other modes
        engine.settings.check_warm_throughput_for_new_stream(params["StreamName"], warm)
    await engine.create_stream(
        params["StreamName"],
        params.get("ShardCount"),
        mode,
        tags,
        params.get("MaxRecordSizeInKiB") or DEFAULT_MAX_RECORD_KIB,
        warm_throughput_mibps=warm,
        record_distribution=params.get("RecordDistributionStrategy"),
    )
    return {}
