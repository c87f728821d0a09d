"""GetRecords: records from an iterator's position, the next iterator and MillisBehindLatest.

A dry run checks the iterator (well-formed, not expired, its stream still there), then answers
without reading or taking from the shard's read limits.
"""

from __future__ import annotations

from typing import Any

from shardflow.engine import dry_run, encryption
from shardflow.engine.engine import Engine
from shardflow.engine.events import RecordsOut
from shardflow.engine.reading import ReadResult
from shardflow.model import sequence
from shardflow.model.enums import EncryptionType
from shardflow.model.shard_ids import shard_id
from shardflow.wire.record_rows import RecordRows

DEFAULT_LIMIT = 10_000  # AWS: up to 10,000 records per call


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    if dry_run.requested(params):
        stream, _, _ = engine.reads.iterator_position(params["ShardIterator"])
        dry_run.conclude(engine.limits, stream.name)
    result = engine.reads.get_records(params["ShardIterator"], params.get("Limit") or DEFAULT_LIMIT)
    if engine.events.active:
        engine.events.emit(
            RecordsOut(
                result.stream_name,
                shard_id(result.shard_index),
                len(result.records),
                result.size,
                result.millis_behind_latest,
            )
        )
    out: dict[str, Any] = {
        "Records": records_out(engine, result),
        "MillisBehindLatest": result.millis_behind_latest,
    }
    if result.next_iterator is not None:
        out["NextShardIterator"] = result.next_iterator
    else:
        out["ChildShards"] = child_shards_out(result)
    return out


def records_out(engine: Engine, result: ReadResult) -> RecordRows:
    """The Records of a read (GetRecords and SubscribeToShardEvent), as the page's columns:
    the codecs write the whole array at once (``wire.record_rows``)."""
    page = result.records
    encrypted = None
    stream = engine.streams.get(result.stream_name)
    if stream is not None and stream.kms_switches_ms:
        # Records written while the stream encrypted carry KMS; AWS omits the field otherwise.
        kms = EncryptionType.KMS
        encrypted = [encryption.record_encryption(stream, a) == kms for a in page.arrivals]
    return RecordRows(
        sequence.page_values(result.shard_index, page.positions),
        page.arrivals,
        page.datas,
        page.keys,
        encrypted,
    )


def child_shards_out(result: ReadResult) -> list[dict[str, Any]]:
    """The ChildShard shapes at the end of a closed shard."""
    return [
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
