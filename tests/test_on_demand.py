"""ON_DEMAND streams gain shards under sustained load and keep every record."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts a server of its own"
)
SCALE = 0.05  # a shard takes 50 records/s: four shards, 200 records/s
WINDOW_S = 2


def test_on_demand_stream_doubles_under_sustained_load(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "d",
        "--limits-scale",
        str(SCALE),
        "--on-demand-window-s",
        str(WINDOW_S),
        limits=True,
    )
    server.start()
    try:
        client = make_client(server.endpoint)
        client.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        assert len(client.list_shards(StreamName="od")["Shards"]) == 4
        acked: set[bytes] = set()
        pending = [f"r{i}".encode() for i in range(900)]
        deadline = time.monotonic() + 20
        open_shards = 4
        while pending and time.monotonic() < deadline:
            batch, pending = pending[:15], pending[15:]  # ~150 records/s: 75 % of capacity
            out = client.put_records(
                StreamName="od", Records=[{"Data": d, "PartitionKey": d.decode()} for d in batch]
            )
            for data, result in zip(batch, out["Records"], strict=True):
                if "ErrorCode" in result:
                    pending.append(data)  # throttled: offer it again later
                else:
                    acked.add(data)
            time.sleep(0.1)
            shards = client.list_shards(StreamName="od")["Shards"]
            open_shards = sum(
                1 for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]
            )
        assert open_shards >= 8, "the stream should have doubled"
        assert not pending and len(acked) == 900
    finally:
        server.stop()
    # Read back on the same data without limits (at this scale a shard serves 0.25 reads/s).
    reader = ServerProcess(tmp_path / "d")
    reader.start()
    try:
        client = make_client(reader.endpoint)
        seen: list[bytes] = []
        for shard in client.list_shards(StreamName="od")["Shards"]:
            it = client.get_shard_iterator(
                StreamName="od", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while it:
                page = client.get_records(ShardIterator=it)
                seen += [r["Data"] for r in page["Records"]]
                if not page["Records"]:
                    break
                it = page.get("NextShardIterator")
        assert sorted(seen) == sorted(acked)
    finally:
        reader.stop()
