"""StopStreamEncryption: records written from now on are EncryptionType NONE again."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.encryption.stop(params)
    return {}
