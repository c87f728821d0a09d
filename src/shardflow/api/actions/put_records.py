"""PutRecords: up to 500 records in one call, with one result per entry in request order.

A dry run makes every check of the whole request, then answers without storing anything.
"""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api.records import entry_from
from shardflow.engine import dry_run
from shardflow.engine.engine import Engine
from shardflow.engine.events import PutRecordsOutcome, RecordsIn, Throttled
from shardflow.engine.faults import ENTRY_THROTTLE_CODE, INTERNAL_MESSAGE
from shardflow.engine.streams import Shard
from shardflow.model.enums import RecordDistribution

MAX_REQUEST_RECORD_BYTES = 10 * 1024 * 1024  # AWS: data + keys of all entries per request


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    stream = engine.find(params, active_only=True)
    entries = []
    sizes = []
    keyless = stream.record_distribution == RecordDistribution.AUTO
    for i, fields in enumerate(params["Records"]):
        path = f"records.{i + 1}.member."
        entry = entry_from(fields, path, keyless=keyless)
        sizes.append(engine.check_record_size(stream, entry, path))
        entries.append(entry)
    total = sum(sizes)
    if total > MAX_REQUEST_RECORD_BYTES:
        raise errors.InvalidArgumentException(
            f"Records size exceeds {MAX_REQUEST_RECORD_BYTES // (1024 * 1024)} MB limit"
        )
    if dry_run.requested(params):
        for entry in entries:
            engine.check_route(stream, entry)
        dry_run.conclude(engine.limits, stream.name)
    shards = [engine.route(stream, e) for e in entries]
    failures = engine.faults.entry_faults("PutRecords", len(entries))
    admit = engine.limits.admit_write
    for i, (shard, size) in enumerate(zip(shards, sizes, strict=True)):
        if failures[i] is None and not admit(shard.uid, size):
            failures[i] = ENTRY_THROTTLE_CODE
    kept = [i for i, code in enumerate(failures) if code is None]
    stored, encryption_type = await engine.put(
        stream, [shards[i] for i in kept], [entries[i] for i in kept]
    )
    sequence_numbers = iter(stored)
    results: list[dict[str, Any]] = []
    for shard, code in zip(shards, failures, strict=True):
        if code is None:
            results.append({"SequenceNumber": next(sequence_numbers), "ShardId": shard.shard_id})
        else:
            results.append(
                {
                    "ErrorCode": code,
                    "ErrorMessage": _entry_message(engine, code, stream.name, shard.shard_id),
                }
            )
    if engine.events.active:
        _report(engine, stream.name, shards, sizes, failures)
    return {
        "FailedRecordCount": len(entries) - len(kept),
        "Records": results,
        "EncryptionType": encryption_type,
    }


def _report(
    engine: Engine, stream: str, shards: list[Shard], sizes: list[int], failures: list[str | None]
) -> None:
    """Emit what this call stored per shard, and its per-entry outcome."""
    stored: dict[str, list[int]] = {}
    throttled: dict[str, int] = {}
    for shard, size, code in zip(shards, sizes, failures, strict=True):
        if code is None:
            counts = stored.setdefault(shard.shard_id, [0, 0])
            counts[0] += 1
            counts[1] += size
        elif code == ENTRY_THROTTLE_CODE:
            throttled[shard.shard_id] = throttled.get(shard.shard_id, 0) + 1
    for shard_id, (records, size) in stored.items():
        engine.events.emit(RecordsIn("PutRecords", stream, shard_id, records, size))
    for shard_id, records in throttled.items():
        engine.events.emit(Throttled(stream, shard_id, "write", records))
    failed = sum(1 for code in failures if code is not None)
    engine.events.emit(
        PutRecordsOutcome(
            stream, len(failures), len(failures) - failed, failed, sum(throttled.values())
        )
    )


def _entry_message(engine: Engine, code: str, stream_name: str, shard_id: str) -> str:
    """AWS's per-entry ErrorMessage for a failed PutRecords entry."""
    if code == ENTRY_THROTTLE_CODE:
        return (
            f"Rate exceeded for shard {shard_id} in stream {stream_name} under account"
            f" {engine.lookup.account()}."
        )
    return INTERNAL_MESSAGE
