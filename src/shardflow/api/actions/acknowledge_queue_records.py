"""AcknowledgeQueueRecords: records the queue must not deliver again (per-entry results)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.queue_delivery.acknowledge(params, dead=False)
