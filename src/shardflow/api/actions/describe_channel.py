"""DescribeChannel: a channel's configuration and state (ChannelStatusReason when FAILED)."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    return engine.channels.describe(params)
