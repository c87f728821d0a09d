"""UpdateMaxRecordSize: the largest record (data + partition key) the stream accepts, 1-10 MiB."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.settings.update_max_record_size(params)
    return {}
