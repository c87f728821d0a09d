"""ListTagsForResource: every tag of a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if engine.channels.owns(params["ResourceARN"]):
        return engine.channels.tags_of(params["ResourceARN"])
    return engine.tags.list_for_resource(params)
