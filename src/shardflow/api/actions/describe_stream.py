"""DescribeStream: the stream and a page of its shards (at most 100, as AWS returns)."""

from __future__ import annotations

from typing import Any

from shardflow.api.shapes import describe_summary_fields, shard_page
from shardflow.engine.engine import Engine
from shardflow.engine.streams import Shard
from shardflow.model.enums import StreamStatus

MAX_SHARDS_PER_PAGE = 100  # AWS returns at most 100 shards per DescribeStream call


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream = engine.find(params)
    limit = min(params.get("Limit") or MAX_SHARDS_PER_PAGE, MAX_SHARDS_PER_PAGE)
    fields = describe_summary_fields(stream)
    shards: list[Shard] = []  # AWS lists no shards until the stream is ACTIVE
    has_more = False
    if fields["StreamStatus"] != StreamStatus.CREATING:
        shards, has_more = shard_page(stream, params.get("ExclusiveStartShardId"), limit)
    description = {
        "StreamName": fields["StreamName"],
        "StreamARN": fields["StreamARN"],
        "StreamStatus": fields["StreamStatus"],
        "StreamModeDetails": fields["StreamModeDetails"],
        "Shards": [s.describe() for s in shards],
        "HasMoreShards": has_more,
        "RetentionPeriodHours": fields["RetentionPeriodHours"],
        "StreamCreationTimestamp": fields["StreamCreationTimestamp"],
        "EnhancedMonitoring": fields["EnhancedMonitoring"],
        "EncryptionType": fields["EncryptionType"],
    }
    if "KeyId" in fields:
        description["KeyId"] = fields["KeyId"]
    return {"StreamDescription": description}
