"""Where a queue starts reading its stream, and how DescribeQueue shows it."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.engine.queue_model import QueueSettings
from shardflow.engine.streams import Stream
from shardflow.storage.sqlite import SqliteStore


def checked_start(start: dict[str, Any] | None) -> tuple[str, Any]:
    """CreateQueue's StartingPosition (LATEST when absent): its type and Timestamp, which
    belongs to AT_TIMESTAMP only."""
    start = start or {"Type": "LATEST"}
    start_type = start["Type"]
    timestamp = start.get("Timestamp")
    if start_type == "AT_TIMESTAMP" and timestamp is None:
        raise errors.ValidationException(
            "Timestamp must be specified when the StartingPosition Type is AT_TIMESTAMP."
        )
    if start_type != "AT_TIMESTAMP" and timestamp is not None:
        raise errors.ValidationException(
            "Timestamp must only be specified when the StartingPosition Type is AT_TIMESTAMP."
        )
    return start_type, timestamp


def starting_point(
    store: SqliteStore, stream: Stream, start_type: str, timestamp: Any, now: int
) -> tuple[int, int, dict[int, int]]:
    """(position a shard without a cursor starts at, the start's approximate time, cursors
    fixed at creation)."""
    if start_type == "LATEST":
        return store.position + 1, now, {}
    cutoff = now - stream.retention_hours * 3_600_000
    if start_type == "TRIM_HORIZON":
        return 0, max(stream.created_ms, cutoff), {}
    at_ms = int(float(timestamp) * 1000)
    cursors: dict[int, int] = {}
    for shard in stream.shards:
        first = store.first_position_at(shard.uid, at_ms)
        cursors[shard.uid] = first if first is not None else store.position + 1
    return 0, max(at_ms, stream.created_ms, cutoff), cursors


def queue_description(s: QueueSettings, status: str) -> dict[str, Any]:
    """The QueueDescription shape. CreateQueue's answer is always CREATING (AWS's), and while
    CREATING the starting position echoes the request; once ACTIVE it carries the effective
    position's approximate time."""
    position: dict[str, Any] = {"Type": s.start_type}
    if status == "CREATING":
        if s.start_timestamp_ms is not None:
            position["Timestamp"] = s.start_timestamp_ms / 1000
    else:
        position["Timestamp"] = s.effective_start_ms / 1000
    return {
        "QueueName": s.name,
        "QueueARN": s.arn,
        "QueueStatus": status,
        "QueueCreationTimestamp": s.created_ms / 1000,
        "StreamConfigurationList": [{"StreamARN": s.stream_arn, "StartingPosition": position}],
        "QueueAttributes": s.attributes(),
    }
