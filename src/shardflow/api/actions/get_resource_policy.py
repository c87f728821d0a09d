"""GetResourcePolicy: the policy of a stream or consumer ARN (``{}`` if it has none)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return engine.policies.get(params)
