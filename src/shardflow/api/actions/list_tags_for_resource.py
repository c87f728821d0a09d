"""ListTagsForResource: every tag of a stream or consumer named by its ARN."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.queue_service import is_queue_arn


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if is_queue_arn(params["ResourceARN"]):
        return engine.queues.list_tags(params)
    if engine.channels.owns(params["ResourceARN"]):
        return engine.channels.tags_of(params["ResourceARN"])
    return engine.tags.list_for_resource(params)
