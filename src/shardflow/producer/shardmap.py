"""The stream's open shards and their hash-key ranges (ListShards), and how it places records
(DescribeStreamSummary's RecordDistributionStrategy)."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shardflow.model.distribution import record_distribution
from shardflow.model.hashing import partition_hash
from shardflow.producer.errors import classify

log = logging.getLogger("shardflow.producer")


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


class KeyHashes:
    """A record's 128-bit hash key, the partition key's MD5 remembered for ``max_keys`` keys
    (MD5 costs more than a lookup)."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._cache: dict[str, int] = {}

    def hash_of(self, partition_key: str, explicit_hash_key: str | None) -> int:
        if explicit_hash_key is not None:
            return int(explicit_hash_key)
        h = self._cache.get(partition_key)
        if h is None:
            if len(self._cache) >= self.max_keys:
                self._cache.clear()
            h = self._cache[partition_key] = partition_hash(partition_key)
        return h


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


class StrategyReader:
    """Reads the stream's RecordDistributionStrategy, warning once while it cannot."""

    def __init__(self, call: Callable[..., Awaitable[Any]], stream_name: str) -> None:
        self._call = call
        self.stream_name = stream_name
        self._failed = False

    async def read(self) -> str | None:
        """AUTO or USER_PARTITION_KEY; None when DescribeStreamSummary fails (on AWS, for one,
        without the kinesis:DescribeStreamSummary permission)."""
        try:
            strategy = await describe_distribution(self._call, self.stream_name)
        except Exception as exc:
            level = logging.DEBUG if self._failed else logging.WARNING
            self._failed = True
            log.log(
                level,
                "%s: DescribeStreamSummary failed (%s): RecordDistributionStrategy unknown;"
                " routing by key unless records land outside their shard's range",
                self.stream_name,
                classify(exc),
            )
            return None
        self._failed = False
        return strategy
