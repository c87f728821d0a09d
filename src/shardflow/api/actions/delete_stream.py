"""DeleteStream: the stream turns DELETING, then disappears with its records."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    engine.queues.check_stream_change(params, "DeleteStream")  # queues go first
    await engine.delete_stream(params)
    return {}
