"""DescribeQueue: a queue's status, stream, starting position and attributes."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return engine.queues.describe(params)
