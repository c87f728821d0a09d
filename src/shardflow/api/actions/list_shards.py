"""ListShards: a stream's shards filtered by ShardFilter, paged with an expiring NextToken."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.api import paging
from shardflow.engine.engine import Engine
from shardflow.engine.streams import Shard, Stream
from shardflow.model.shard_ids import shard_index

DEFAULT_MAX_RESULTS = 1000  # AWS default page size for ListShards


async def handle(engine: Engine, params: dict[str, Any]) -> dict[str, Any]:
    state = paging.resume(engine, params, "ListShards")
    if state is not None:  # alone: the pipeline's checks refuse it with a stream or a start
        stream = engine.find({"StreamName": state.get("stream")})
        if stream.uid != state.get("uid"):
            raise errors.ResourceNotFoundException(
                f"Stream {stream.name} under account {engine.lookup.account()} not found."
            )
        after = int(state.get("after", -1))
        shard_filter = state.get("filter")
    else:
        stream = engine.find(params)
        start = params.get("ExclusiveStartShardId")
        index = shard_index(start) if start is not None else None
        after = -1 if index is None else index
        shard_filter = params.get("ShardFilter")
        if shard_filter is not None and "Timestamp" in shard_filter:
            shard_filter = dict(shard_filter, Timestamp=shard_filter["Timestamp"])
    shards = [s for s in _filtered(stream, shard_filter) if s.index > after]
    limit = params.get("MaxResults") or DEFAULT_MAX_RESULTS
    page, has_more = shards[:limit], len(shards) > limit
    out: dict[str, Any] = {"Shards": [s.describe() for s in page]}
    if has_more:
        out["NextToken"] = paging.next_token(
            engine,
            {
                "stream": stream.name,
                "uid": stream.uid,
                "after": page[-1].index,
                "filter": shard_filter,
            },
        )
    return out


def _filtered(stream: Stream, shard_filter: dict[str, Any] | None) -> list[Shard]:
    """Apply a ShardFilter with AWS's meaning of each type."""
    if not shard_filter:
        return list(stream.shards)
    kind = shard_filter["Type"]
    if kind == "AFTER_SHARD_ID":
        start = shard_filter.get("ShardId")
        if start is None:
            raise errors.InvalidArgumentException(
                "ShardId must be specified for the AFTER_SHARD_ID ShardFilter type."
            )
        index = shard_index(start)
        return [s for s in stream.shards if index is None or s.index > index]
    if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
        ts = shard_filter.get("Timestamp")
        if ts is None:
            raise errors.InvalidArgumentException(
                f"Timestamp must be specified for the {kind} ShardFilter type."
            )
        at_ms = round(ts * 1000)
        if kind == "AT_TIMESTAMP":
            return [
                s
                for s in stream.shards
                if s.created_ms <= max(at_ms, stream.created_ms)
                and (s.closed_ms is None or s.closed_ms > at_ms)
            ]
        return [s for s in stream.shards if s.closed_ms is None or s.closed_ms >= at_ms]
    horizon = stream.clock.now_ms() - stream.retention_hours * 3_600_000
    if kind == "AT_LATEST":
        return [s for s in stream.shards if s.is_open]
    if kind == "AT_TRIM_HORIZON":
        return [
            s
            for s in stream.shards
            if s.created_ms <= max(horizon, stream.created_ms)
            and (s.closed_ms is None or s.closed_ms > horizon)
        ]
    # FROM_TRIM_HORIZON: every shard whose records are not all past retention.
    return [s for s in stream.shards if s.closed_ms is None or s.closed_ms > horizon]
