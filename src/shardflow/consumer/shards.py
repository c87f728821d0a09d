"""The shape of a stream's shards and which ones may be read now (pure, no I/O).

After a split or a merge the records of a key continue in a child shard, so a child is read only
once every parent has been read to its end: that keeps each key's records in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ShardInfo:
    shard_id: str
    parents: tuple[str, ...] = ()
    closed: bool = False  # has an EndingSequenceNumber: no more records will arrive
    starting_sequence: str | None = None
    hash_range: tuple[int, int] | None = None  # (StartingHashKey, EndingHashKey)

    @classmethod
    def from_api(cls, shard: Mapping[str, Any]) -> ShardInfo:
        """From a ListShards / DescribeStream shard description."""
        parents = tuple(
            p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p
        )
        seq_range = shard.get("SequenceNumberRange", {})
        keys = shard.get("HashKeyRange")
        return cls(
            shard["ShardId"],
            parents,
            closed=seq_range.get("EndingSequenceNumber") is not None,
            starting_sequence=seq_range.get("StartingSequenceNumber"),
            hash_range=(
                (int(keys["StartingHashKey"]), int(keys["EndingHashKey"])) if keys else None
            ),
        )


def ready(shards: Iterable[ShardInfo], finished: set[str]) -> list[str]:
    """Shards that are not finished and whose parents all are, in shard-id order.

    A parent missing from the list has been trimmed by retention: nothing is left to read in
    it, so it counts as finished.
    """
    shards = list(shards)
    known = {s.shard_id for s in shards}
    out = []
    for shard in shards:
        if shard.shard_id in finished:
            continue
        if all(p in finished or p not in known for p in shard.parents):
            out.append(shard.shard_id)
    return sorted(out)


def open_leaves(shards: Iterable[ShardInfo]) -> set[str]:
    """Shards that are still open: where a reader starting at LATEST begins."""
    return {s.shard_id for s in shards if not s.closed}
