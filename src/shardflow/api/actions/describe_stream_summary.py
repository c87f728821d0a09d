"""DescribeStreamSummary: the stream without its shard list."""

from __future__ import annotations

from typing import Any

from shardflow.api.shapes import describe_summary_fields
from shardflow.engine.engine import Engine
from shardflow.engine.metadata import warm_throughput


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream = engine.find(params)
    summary = describe_summary_fields(stream)
    summary["OpenShardCount"] = stream.open_shard_count
    summary["ConsumerCount"] = engine.consumers.count(stream)
    if stream.warm_throughput_mibps is not None:
        summary["WarmThroughput"] = warm_throughput(stream)
    summary["MaxRecordSizeInKiB"] = stream.max_record_kib
    if stream.record_distribution is not None:
        summary["RecordDistributionStrategy"] = stream.record_distribution
    return {"StreamDescriptionSummary": summary}
