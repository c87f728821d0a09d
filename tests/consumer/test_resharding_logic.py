"""Parents before children through the whole consumer, on a fake client (no server needed).

The fake stream went through a split and then a merge: s0 → (s1, s2) → s3. Each key's counter
keeps rising across generations, so delivering a child before its parent shows as disorder.
The same path over HTTP is in test_consumer.py (split; merge once the server finishes it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from shardflow.consumer import AsyncConsumer, MemoryCheckpointStore

# shard -> (parents, closed, keys written to it, counters per key)
LAYOUT: dict[str, tuple[tuple[str, ...], bool, list[str], range]] = {
    "s0": ((), True, ["a", "b"], range(1, 11)),
    "s1": (("s0",), True, ["a"], range(11, 21)),
    "s2": (("s0",), True, ["b"], range(11, 21)),
    "s3": (("s1", "s2"), False, ["a", "b"], range(21, 31)),
}


class FakeKinesis:
    """ListShards, GetShardIterator and GetRecords over fixed shard contents."""

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}
        seq = 1000
        for shard, (_, _, keys, counters) in LAYOUT.items():
            rows = []
            for n in counters:
                for key in keys:
                    seq += 1
                    data = json.dumps({"key": key, "seq": n}).encode()
                    rows.append({"SequenceNumber": str(seq), "Data": data, "PartitionKey": key})
            self.records[shard] = rows

    def describe_stream_summary(self, **_: Any) -> dict[str, Any]:
        created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        return {"StreamDescriptionSummary": {"StreamCreationTimestamp": created}}

    def list_shards(self, **_: Any) -> dict[str, Any]:
        shards = []
        for shard, (parents, closed, _, _) in LAYOUT.items():
            desc: dict[str, Any] = {"ShardId": shard, "SequenceNumberRange": {}}
            if parents:
                desc["ParentShardId"] = parents[0]
            if len(parents) > 1:
                desc["AdjacentParentShardId"] = parents[1]
            if closed:
                desc["SequenceNumberRange"]["EndingSequenceNumber"] = "9" * 20
            shards.append(desc)
        return {"Shards": shards}

    def get_shard_iterator(self, *, ShardId: str, ShardIteratorType: str, **_: Any) -> Any:
        assert ShardIteratorType == "TRIM_HORIZON"
        return {"ShardIterator": f"{ShardId}:0"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard, pos = ShardIterator.split(":")
        rows = self.records[shard][int(pos) : int(pos) + Limit]
        end = int(pos) + len(rows)
        out: dict[str, Any] = {
            "Records": rows,
            "MillisBehindLatest": 0 if end == len(self.records[shard]) else 1000,
        }
        if LAYOUT[shard][1] and end == len(self.records[shard]):
            out["ChildShards"] = []  # closed and read to the end: no next iterator
        else:
            out["NextShardIterator"] = f"{shard}:{end}"
        return out


def test_children_wait_for_parents_through_split_and_merge() -> None:
    store = MemoryCheckpointStore()

    async def run() -> list[tuple[str, str, int]]:
        async with AsyncConsumer(
            "fake", store=store, client=FakeKinesis(), limit=4, stop_at_tip=True, read_limits=False
        ) as consumer:
            return [
                (r.shard_id, json.loads(r.data)["key"], json.loads(r.data)["seq"])
                async for r in consumer.records()
            ]

    got = asyncio.run(run())
    for key in "ab":
        assert [n for _, k, n in got if k == key] == list(range(1, 31))
    order = [shard for shard, _, _ in got]
    last = {shard: max(i for i, s in enumerate(order) if s == shard) for shard in LAYOUT}
    first = {shard: order.index(shard) for shard in LAYOUT}
    assert last["s0"] < min(first["s1"], first["s2"])
    assert max(last["s1"], last["s2"]) < first["s3"]
    (scope,) = store._rows  # one stream
    finished = {lease.shard_id for lease in store.leases(scope) if lease.finished}
    assert finished == {"s0", "s1", "s2"}  # SHARD_END checkpoints; s3 is still open
