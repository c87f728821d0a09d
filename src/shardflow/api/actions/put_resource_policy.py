"""PutResourcePolicy: attach a resource policy to a stream or consumer ARN, replacing any."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.policies.put(params)
    return {}
