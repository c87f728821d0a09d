"""Lease stores: conditional writes make a worker that lost its lease harmless."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from shardflow.consumer.records import SHARD_END, Position
from shardflow.consumer.shards import ShardInfo
from shardflow.consumer.sqlite_store import SQLiteCheckpointStore
from shardflow.consumer.store import CheckpointStore, MemoryCheckpointStore

SCOPE = "app/stream@1"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> CheckpointStore:
    if request.param == "memory":
        return MemoryCheckpointStore()
    return SQLiteCheckpointStore(tmp_path / "leases.sqlite")


def test_take_renew_checkpoint_and_fencing(store: CheckpointStore) -> None:
    store.sync_shards(SCOPE, [ShardInfo("s0"), ShardInfo("s1", ("s0",))])
    store.sync_shards(SCOPE, [ShardInfo("s0")])  # idempotent
    leases = {lease.shard_id: lease for lease in store.leases(SCOPE)}
    assert leases["s1"].parents == ("s0",) and leases["s0"].owner is None
    a = store.take(SCOPE, "s0", "a", 0, 50.0)
    assert a is not None and a.counter == 1 and a.owner == "a"
    assert store.take(SCOPE, "s0", "b", 0, 50.0) is None  # a was faster
    assert store.checkpoint(SCOPE, "s0", "a", 1, Position(42, 3))
    assert store.renew(SCOPE, "s0", "a", 1, 60.0)
    b = store.take(SCOPE, "s0", "b", 1, 70.0)  # b takes over (a's lease expired or stolen)
    assert b is not None and b.counter == 2 and b.checkpoint == Position(42, 3)
    # a no longer owns it: every write of a is refused
    assert not store.checkpoint(SCOPE, "s0", "a", 1, Position(99))
    assert not store.renew(SCOPE, "s0", "a", 1, 80.0)
    assert not store.release(SCOPE, "s0", "a", 1)
    assert store.checkpoint(SCOPE, "s0", "b", 2, SHARD_END)
    assert store.release(SCOPE, "s0", "b", 2)
    (s0,) = [lease for lease in store.leases(SCOPE) if lease.shard_id == "s0"]
    assert s0.finished and s0.owner is None
    store.close()


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "leases.sqlite"
    first = SQLiteCheckpointStore(path)
    first.sync_shards(SCOPE, [ShardInfo("s0")])
    assert first.take(SCOPE, "s0", "a", 0, 1.0)
    assert first.checkpoint(SCOPE, "s0", "a", 1, Position(12345678901234567890123456789, 7))
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
