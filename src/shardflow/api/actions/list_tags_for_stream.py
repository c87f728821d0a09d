"""ListTagsForStream: a stream's tags by key, paged by ExclusiveStartTagKey and Limit."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return engine.tags.list_for_stream(params)
