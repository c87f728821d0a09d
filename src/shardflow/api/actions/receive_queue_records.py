"""ReceiveQueueRecords: up to 10 visible records, each hidden for the visibility timeout."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.queue_delivery.receive(params, dead=False)
