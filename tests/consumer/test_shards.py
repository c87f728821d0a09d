"""Parents before children: which shards may be read, after splits and merges."""

from __future__ import annotations

from shardflow.consumer.shards import ShardInfo, open_leaves, ready


def _shard(shard_id: str, *parents: str, closed: bool = False) -> ShardInfo:
    return ShardInfo(shard_id, tuple(parents), closed=closed)


# 0 split into 2 and 3; 1 and 3 merged into 4.
SHARDS = [
    _shard("s0", closed=True),
    _shard("s1", closed=True),
    _shard("s2", "s0"),
    _shard("s3", "s0", closed=True),
    _shard("s4", "s1", "s3"),
]


def test_only_roots_first() -> None:
    assert ready(SHARDS, set()) == ["s0", "s1"]


def test_split_children_after_their_parent() -> None:
    assert ready(SHARDS, {"s0"}) == ["s1", "s2", "s3"]


def test_merge_child_waits_for_both_parents() -> None:
    assert "s4" not in ready(SHARDS, {"s0", "s1"})
    assert "s4" not in ready(SHARDS, {"s0", "s3"})
    assert ready(SHARDS, {"s0", "s1", "s3"}) == ["s2", "s4"]


def test_parents_trimmed_by_retention_count_as_finished() -> None:
    assert ready(SHARDS[2:], set()) == ["s2", "s3"]


def test_from_api_reads_parents_and_closed_state() -> None:
    info = ShardInfo.from_api(
        {
            "ShardId": "s4",
            "ParentShardId": "s1",
            "AdjacentParentShardId": "s3",
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "9"},
        }
    )
    assert info.parents == ("s1", "s3") and info.closed
    assert open_leaves(SHARDS) == {"s2", "s4"}
