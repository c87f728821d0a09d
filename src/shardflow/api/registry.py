"""Operation name -> handler: the operations this server implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from shardflow.api.actions import (
    create_stream,
    delete_stream,
    describe_limits,
    describe_stream,
    describe_stream_summary,
    get_records,
    get_shard_iterator,
    list_shards,
    list_streams,
    merge_shards,
    put_record,
    put_records,
    split_shard,
    update_shard_count,
)
from shardflow.engine.engine import Engine

Handler = Callable[[Engine, dict[str, Any]], Awaitable[dict[str, Any]]]

HANDLERS: dict[str, Handler] = {
    "CreateStream": create_stream.handle,
    "DeleteStream": delete_stream.handle,
    "DescribeLimits": describe_limits.handle,
    "DescribeStream": describe_stream.handle,
    "DescribeStreamSummary": describe_stream_summary.handle,
    "GetRecords": get_records.handle,
    "GetShardIterator": get_shard_iterator.handle,
    "ListShards": list_shards.handle,
    "ListStreams": list_streams.handle,
    "PutRecord": put_record.handle,
    "PutRecords": put_records.handle,
    "MergeShards": merge_shards.handle,
    "SplitShard": split_shard.handle,
    "UpdateShardCount": update_shard_count.handle,
}
