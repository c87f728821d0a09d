"""TagResource: add or overwrite tags on a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.queue_service import is_queue_arn


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if is_queue_arn(params["ResourceARN"]):
        await engine.queues.tag(params)
        return {}
    if engine.channels.owns(params["ResourceARN"]):
        await engine.channels.tag(params["ResourceARN"], params["Tags"])
        return {}
    await engine.tags.tag_resource(params)
    return {}
