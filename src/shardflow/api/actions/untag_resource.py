"""UntagResource: remove tags from a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if engine.channels.owns(params["ResourceARN"]):
        await engine.channels.untag(params["ResourceARN"], params["TagKeys"])
        return {}
    await engine.tags.untag_resource(params)
    return {}
