"""The stream's open shards and their hash-key ranges (ListShards), and how it places records
(DescribeStreamSummary's RecordDistributionStrategy)."""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable
from typing import Any

from shardflow.model.distribution import record_distribution


class ShardMap:
    """Maps a 128-bit hash key to the open shard that owns it."""

    def __init__(self, shards: list[tuple[str, int, int]], version: int = 0) -> None:
        if not shards:
            raise ValueError("the stream has no open shard")
        shards = sorted(shards, key=lambda s: s[1])
        self.ids = [s[0] for s in shards]
        self.starts = [s[1] for s in shards]
        self.ends = [s[2] for s in shards]
        self.version = version

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, hash_key: int) -> int:
        """Position of the shard owning ``hash_key`` in ``ids``."""
        return bisect.bisect_right(self.starts, hash_key) - 1

    def shard_id(self, hash_key: int) -> str:
        return self.ids[self.index(hash_key)]

    @classmethod
    def from_list_shards(cls, shards: list[dict[str, Any]], version: int = 0) -> ShardMap:
        """Open shards only: a closed shard (resharded away) has an EndingSequenceNumber."""
        open_shards = [
            (
                s["ShardId"],
                int(s["HashKeyRange"]["StartingHashKey"]),
                int(s["HashKeyRange"]["EndingHashKey"]),
            )
            for s in shards
            if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
        ]
        return cls(open_shards, version)


async def list_shards(
    call: Callable[..., Awaitable[Any]], stream_name: str
) -> list[dict[str, Any]]:
    """Every shard of the stream, following NextToken."""
    out: list[dict[str, Any]] = []
    page = await call("list_shards", StreamName=stream_name)
    out.extend(page.get("Shards", []))
    while page.get("NextToken"):
        page = await call("list_shards", NextToken=page["NextToken"])
        out.extend(page.get("Shards", []))
    return out


async def describe_distribution(call: Callable[..., Awaitable[Any]], stream_name: str) -> str:
    """The stream's RecordDistributionStrategy: AUTO or USER_PARTITION_KEY."""
    summary = await call("describe_stream_summary", StreamName=stream_name)
    return record_distribution(summary["StreamDescriptionSummary"])
