"""CreateChannel: a channel from an ON_DEMAND stream to S3 or an Iceberg table, CREATING."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.channels.create(params)
