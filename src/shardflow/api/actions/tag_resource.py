"""TagResource: add or overwrite tags on a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if engine.channels.owns(params["ResourceARN"]):
        await engine.channels.tag(params["ResourceARN"], params["Tags"])
        return {}
    await engine.tags.tag_resource(params)
    return {}
