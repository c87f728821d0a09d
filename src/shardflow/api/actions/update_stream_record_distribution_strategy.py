"""UpdateStreamRecordDistributionStrategy: AUTO or USER_PARTITION_KEY, stored and reported.

Records are routed by the MD5 of their partition key either way."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.settings.update_record_distribution(params)
    return {}
