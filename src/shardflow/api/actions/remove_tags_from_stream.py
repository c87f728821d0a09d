"""RemoveTagsFromStream: remove tags by key (keys that are not there are ignored)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.tags.remove_from_stream(params)
    return {}
