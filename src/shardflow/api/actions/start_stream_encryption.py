"""StartStreamEncryption: server-side encryption with a KMS key (recorded and reported; records
are stored as they are)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.settings.set_encryption(params, start=True)
    return {}
