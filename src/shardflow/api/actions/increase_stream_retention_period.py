"""IncreaseStreamRetentionPeriod: keep records longer (at most 8760 hours)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.settings.change_retention(params, increase=True)
    return {}
