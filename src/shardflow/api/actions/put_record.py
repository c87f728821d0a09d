"""PutRecord: one record, routed by the MD5 of its partition key or an explicit hash key (or
spread over the shards, on a stream with the AUTO distribution strategy).

SequenceNumberForOrdering needs no special work: positions come from one counter in commit
order, so a record written after another always gets a greater sequence number. A dry run makes
every check, then answers without storing, routing or taking from the shard's throughput.
"""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api.records import entry_from
from shardflow.engine import dry_run
from shardflow.engine.engine import Engine
from shardflow.engine.events import RecordsIn
from shardflow.model.enums import RecordDistribution

# AWS's message when a stream with the AUTO strategy gets SequenceNumberForOrdering (its docs).
AUTO_ORDERING_MESSAGE = (
    "Stream has SERVICE_DEFINED PartitionKey enabled. SequenceNumberForOrdering must not be"
    " provided."
)


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream = engine.find(params, active_only=True)
    auto = stream.record_distribution == RecordDistribution.AUTO
    if auto and params.get("SequenceNumberForOrdering") is not None:
        raise errors.InvalidArgumentException(AUTO_ORDERING_MESSAGE)
    entry = entry_from(params, "", keyless=auto)
    size = engine.check_record_size(stream, entry)
    if dry_run.requested(params):
        engine.check_route(stream, entry)
        dry_run.conclude(engine.limits, stream.name)
    shard = engine.route(stream, entry)
    if not engine.limits.admit_write(shard.uid, size):
        raise engine.throttled(stream, shard)
    (sequence_number,), encryption_type = await engine.put(stream, [shard], [entry])
    if engine.events.active:
        engine.events.emit(RecordsIn("PutRecord", stream.name, shard.shard_id, 1, size))
    return {
        "ShardId": shard.shard_id,
        "SequenceNumber": sequence_number,
        "EncryptionType": encryption_type,
    }
