"""UpdateChannel: a new DataFreshnessInSeconds or logging configuration; UPDATING, then ACTIVE."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.channels.update(params)
