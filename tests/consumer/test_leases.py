"""Sharing shards between workers: free leases first, steal to balance, no ping-pong."""

from __future__ import annotations

from shardflow.consumer.leases import plan
from shardflow.consumer.store import Lease

SHARDS = ["s0", "s1", "s2", "s3"]
DEAD = "dead"  # an owner whose leases expired


def _lease(shard: str, owner: str | None = None) -> Lease:
    return Lease(shard, owner, 1)


def held(lease: Lease) -> bool:
    return lease.owner not in (None, DEAD)


def test_a_lone_worker_takes_everything() -> None:
    choice = plan([_lease(s) for s in SHARDS], SHARDS, "a", held)
    assert [lease.shard_id for lease in choice.take] == SHARDS and choice.steal is None


def test_two_workers_split_free_leases() -> None:
    leases = [_lease("s0", "a"), _lease("s1", "a"), _lease("s2"), _lease("s3")]
    choice = plan(leases, SHARDS, "b", held)
    assert [lease.shard_id for lease in choice.take] == ["s2", "s3"]


def test_expired_leases_are_free() -> None:
    leases = [_lease(s, DEAD) for s in SHARDS]
    assert len(plan(leases, SHARDS, "b", held).take) == 4


def test_newcomer_steals_from_the_busiest() -> None:
    leases = [_lease(s, "a") for s in SHARDS]
    choice = plan(leases, SHARDS, "b", held)
    assert choice.take == [] and choice.steal is not None and choice.steal.owner == "a"


def test_no_steal_when_balanced_within_one() -> None:
    leases = [_lease("s0", "a"), _lease("s1", "a"), _lease("s2", "b")]
    assert plan(leases, ["s0", "s1", "s2"], "b", held).steal is None


def test_only_ready_shards_are_considered() -> None:
    leases = [_lease(s) for s in SHARDS]
    assert [lease.shard_id for lease in plan(leases, ["s1"], "a", held).take] == ["s1"]


def test_max_leases_caps_the_share() -> None:
    assert len(plan([_lease(s) for s in SHARDS], SHARDS, "a", held, max_leases=1).take) == 1
