"""DescribeStreamSummary: the stream without its shard list."""

from __future__ import annotations

from typing import Any

from shardflow.api.shapes import describe_summary_fields
from shardflow.engine.engine import Engine
from shardflow.engine.metadata import capacity_summary


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream = engine.find(params)
    summary = describe_summary_fields(stream)
    summary["OpenShardCount"] = stream.open_shard_count
    summary["ConsumerCount"] = engine.consumers.count(stream)
    summary["QueueCount"] = engine.queues.count(stream)
    summary.update(
        capacity_summary(stream, engine.account.commitment_in_force())
    )  # WarmThroughput, RecordDistributionStrategy
    summary["MaxRecordSizeInKiB"] = stream.max_record_kib
    summary["ChannelCount"] = engine.channels.count(stream)
    return {"StreamDescriptionSummary": summary}
