"""GetRecords: records from an iterator's position, the next iterator and MillisBehindLatest."""

from __future__ import annotations

from typing import Any

from shardflow.engine.engine import Engine
from shardflow.engine.events import RecordsOut
from shardflow.model import sequence
from shardflow.model.shard_ids import shard_id

DEFAULT_LIMIT = 10_000  # AWS: up to 10,000 records per call


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    result = engine.get_records(params["ShardIterator"], params.get("Limit") or DEFAULT_LIMIT)
    params.setdefault("StreamName", result.stream_name)  # names the stream in CallDone
    if engine.events.active:
        size = sum(len(r.data) + len(r.partition_key) for r in result.records)
        engine.events.emit(
            RecordsOut(
                result.stream_name,
                shard_id(result.shard_index),
                len(result.records),
                size,
                result.millis_behind_latest,
            )
        )
    index = result.shard_index
    out: dict[str, Any] = {
        "Records": [
            {
                "SequenceNumber": sequence.encode(index, r.position),
                "ApproximateArrivalTimestamp": r.arrival_ms / 1000,
                "Data": r.data,
                "PartitionKey": r.partition_key,
            }
            for r in result.records
        ],
        "MillisBehindLatest": result.millis_behind_latest,
    }
    stream = engine.streams.get(result.stream_name)
    if stream is not None and stream.encryption_type == "KMS":
        # Records are not stored encrypted: they report the stream's encryption at read time.
        for record in out["Records"]:
            record["EncryptionType"] = "KMS"
    if result.next_iterator is not None:
        out["NextShardIterator"] = result.next_iterator
    else:
        out["ChildShards"] = [
            {
                "ShardId": child.shard_id,
                "ParentShards": [
                    shard_id(p)
                    for p in (child.parent_index, child.adjacent_parent_index)
                    if p is not None
                ],
                "HashKeyRange": child.describe()["HashKeyRange"],
            }
            for child in result.child_shards
        ]
    return out
