"""DeleteChannel: stop delivering; what was delivered stays at the destination."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.channels.delete(params)
    return {}
