"""CreateQueue: a queue on an ON_DEMAND stream, CREATING then ACTIVE."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.queues.create(params)
