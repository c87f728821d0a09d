"""AddTagsToStream: add or overwrite tags on a stream (at most 50 in all)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.tags.add_to_stream(params)
    return {}
