"""DecreaseStreamRetentionPeriod: keep records for less time (at least 24 hours); the
retention sweep then drops what is older."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.settings.change_retention(params, increase=False)
    return {}
