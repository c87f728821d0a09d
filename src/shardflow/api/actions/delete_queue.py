"""DeleteQueue: in-flight records are not delivered again; receipt handles stop working."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.queues.delete(params)
    return {}
