"""DescribeLimits: the account's shard quota and what is in use, counted live."""

from __future__ import annotations

from typing import Any

from shardflow.engine.channels import MAX_CHANNELS_PER_ACCOUNT
from shardflow.engine.engine import Engine
from shardflow.model.enums import StreamMode


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    streams = engine.live_streams()
    return {
        "ShardLimit": engine.config.shard_limit,
        "OpenShardCount": sum(s.open_shard_count for s in streams),
        "OnDemandStreamCount": sum(1 for s in streams if s.mode == StreamMode.ON_DEMAND),
        "OnDemandStreamCountLimit": engine.config.on_demand_stream_limit,
        "ChannelCount": engine.channels.count(),
        "ChannelCountLimit": MAX_CHANNELS_PER_ACCOUNT,
    }
