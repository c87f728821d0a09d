"""PutRecords: up to 500 records in one call, with one result per entry in request order."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api.records import entry_from
from shardflow.engine.engine import Engine

MAX_REQUEST_RECORD_BYTES = 10 * 1024 * 1024  # AWS: data + keys of all entries per request


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream = engine.find(params, active_only=True)
    entries = []
    total = 0
    for i, fields in enumerate(params["Records"]):
        path = f"records.{i + 1}.member."
        entry = entry_from(fields, path)
        total += engine.check_record_size(stream, entry, path)
        entries.append(entry)
    if total > MAX_REQUEST_RECORD_BYTES:
        raise errors.InvalidArgumentException(
            f"Records size exceeds {MAX_REQUEST_RECORD_BYTES // (1024 * 1024)} MB limit"
        )
    shards = [engine.route(stream, e) for e in entries]
    sequence_numbers = await engine.put(stream, shards, entries)
    return {
        "FailedRecordCount": 0,
        "Records": [
            {"SequenceNumber": seq, "ShardId": shard.shard_id}
            for shard, seq in zip(shards, sequence_numbers, strict=True)
        ],
        "EncryptionType": stream.encryption_type,
    }
