"""UntagResource: remove tags from a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.tags.untag_resource(params)
    return {}
