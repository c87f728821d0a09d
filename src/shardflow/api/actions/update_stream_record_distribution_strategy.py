"""UpdateStreamRecordDistributionStrategy: AUTO (ON_DEMAND streams only) spreads the next records
evenly over the open shards whatever their keys; USER_PARTITION_KEY routes them by the MD5 of their
partition key again. Records already stored stay where they are."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.settings.update_record_distribution(params)
    return {}
