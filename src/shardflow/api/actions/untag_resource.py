"""UntagResource: remove tags from a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.queue_service import is_queue_arn


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if is_queue_arn(params["ResourceARN"]):
        await engine.queues.untag(params)
        return {}
    if engine.channels.owns(params["ResourceARN"]):
        await engine.channels.untag(params["ResourceARN"], params["TagKeys"])
        return {}
    await engine.tags.untag_resource(params)
    return {}
