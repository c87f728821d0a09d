"""StartStreamEncryption: report records written from now on as encrypted with a KMS key (there
is no KMS here: the key is checked for form only, records are stored as they are)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    await engine.encryption.start(params)
    return {}
