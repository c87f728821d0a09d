"""DisableEnhancedMonitoring: remove shard-level metrics (ALL for every one)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return await engine.settings.set_monitoring(params, enable=False)
