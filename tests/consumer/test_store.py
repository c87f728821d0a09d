"""Lease stores: conditional writes make a worker that lost its lease harmless."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shardflow.consumer.dynamodb_store import DynamoDBCheckpointStore
from shardflow.consumer.records import SHARD_END, Position
from shardflow.consumer.shards import ShardInfo
from shardflow.consumer.sqlite_store import SQLiteCheckpointStore
from shardflow.consumer.store import CheckpointStore, MemoryCheckpointStore
from tests.consumer.dynamodb import unique_table

SCOPE = "app/stream@1"


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CheckpointStore:
    if request.param == "memory":
        return MemoryCheckpointStore()
    if request.param == "dynamodb":
        server = request.getfixturevalue("dynamodb_server")
        return DynamoDBCheckpointStore(unique_table(), client=server.client())
    return SQLiteCheckpointStore(tmp_path / "leases.sqlite")


def test_take_renew_checkpoint_and_fencing(store: CheckpointStore) -> None:
    store.sync_shards(SCOPE, [ShardInfo("s0"), ShardInfo("s1", ("s0",))])
    store.sync_shards(SCOPE, [ShardInfo("s0")])  # idempotent
    leases = {lease.shard_id: lease for lease in store.leases(SCOPE)}
    assert leases["s1"].parents == ("s0",) and leases["s0"].owner is None
    free = leases["s0"]
    a = store.take(SCOPE, free, "a")
    assert a is not None and a.counter == free.counter + 1 and a.owner == "a"
    assert store.take(SCOPE, free, "b") is None  # a was faster
    c = a.counter
    assert store.checkpoint(SCOPE, "s0", "a", c, Position(42, 3)) == c + 1  # every write counts
    assert store.renew(SCOPE, "s0", "a", c + 1) == c + 2
    # a stale counter is refused (DynamoDB's store takes the counter just before the current
    # one, with the current owner, as the resend of a write that landed: its own test covers it)
    assert store.renew(SCOPE, "s0", "a", c) is None
    (seen,) = [lease for lease in store.leases(SCOPE) if lease.shard_id == "s0"]
    b = store.take(SCOPE, seen, "b")  # b takes over (a's lease expired or stolen)
    assert b is not None and b.counter == c + 3 and b.checkpoint == Position(42, 3)
    assert b.owner_switches == 1
    # a no longer owns it: every write of a is refused, even with the current counter
    assert store.checkpoint(SCOPE, "s0", "a", c + 2, Position(99)) is None
    assert store.checkpoint(SCOPE, "s0", "a", c + 3, Position(99)) is None
    assert store.renew(SCOPE, "s0", "a", c + 3) is None
    assert not store.release(SCOPE, "s0", "a", c + 3)
    assert store.checkpoint(SCOPE, "s0", "b", c + 3, SHARD_END) == c + 4
    assert store.release(SCOPE, "s0", "b", c + 4)
    (s0,) = [lease for lease in store.leases(SCOPE) if lease.shard_id == "s0"]
    assert s0.finished and s0.owner is None and s0.owner_switches == 0 and s0.counter == c + 5
    store.close()


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite"
    first = SQLiteCheckpointStore(path)
    first.sync_shards(SCOPE, [ShardInfo("s0")])
    (free,) = first.leases(SCOPE)
    taken = first.take(SCOPE, free, "a")
    assert taken is not None
    assert first.checkpoint(
        SCOPE, "s0", "a", taken.counter, Position(12345678901234567890123456789, 7)
    )
    first.close()
    (lease,) = SQLiteCheckpointStore(path).leases(SCOPE)
    assert lease.checkpoint == Position(12345678901234567890123456789, 7)


def test_workers_opening_a_new_store_together_all_start(tmp_path: Path) -> None:
    """Workers started at the same moment open one new store: none fails "database is locked"
    (SQLite does not wait on its busy handler to switch a new database to WAL)."""
    errors: list[BaseException] = []
    for attempt in range(100):
        path = tmp_path / f"leases-{attempt}.sqlite"
        ready = threading.Barrier(3)

        def open_store(path: Path = path, ready: threading.Barrier = ready) -> None:
            ready.wait()
            try:
                SQLiteCheckpointStore(path).leases("scope")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_racing_workers_take_each_lease_once(store: CheckpointStore) -> None:
    """Four threads race for every lease of 8 shards at once: each lease gets one owner, and
    the losers see a refusal, never an error."""
    store.sync_shards(SCOPE, [ShardInfo(f"s{i}") for i in range(8)])
    seen = store.leases(SCOPE)
    won: dict[str, list[str]] = {lease.shard_id: [] for lease in seen}
    start = threading.Barrier(4)

    errors: list[BaseException] = []

    def race(worker: str) -> None:
        start.wait()
        for lease in seen:
            try:
                if store.take(SCOPE, lease, worker) is not None:
                    won[lease.shard_id].append(worker)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(owners) == 1 for owners in won.values()), won
    owners = {lease.shard_id: lease.owner for lease in store.leases(SCOPE)}
    assert owners == {shard: names[0] for shard, names in won.items()}
