"""UpdateQueue: a queue's visibility timeout and dead-letter settings (later receives)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.queues.update(params)
