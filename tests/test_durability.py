"""Nothing acknowledged is lost: SIGKILL the server while clients write, restart, read back."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import make_client
from tests.support import ServerProcess

WRITERS = 4
SHARDS = 3


def _read_all(client, stream: str) -> dict[str, list[dict]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[dict]] = {}
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict] = []
        while True:
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            records += page["Records"]
            if not page["Records"]:
                break
            iterator = page["NextShardIterator"]
        out[shard["ShardId"]] = records
    return out


@pytest.mark.parametrize("durability", ["process", "fsync"])
def test_kill_9_loses_no_acknowledged_record(tmp_path: Path, durability: str) -> None:
    if __import__("os").environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("needs a server this test can kill")
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, "--durability", durability)
    server.start()
    stream = f"durable-{uuid.uuid4().hex[:8]}"
    acked: list[tuple[str, str, bytes]] = []  # (shard id, sequence number, data)
    lock = threading.Lock()
    stop = threading.Event()
    try:
        admin = make_client(server.endpoint)
        admin.create_stream(StreamName=stream, ShardCount=SHARDS)

        def writer(n: int) -> None:
            client = make_client(server.endpoint, connect_timeout=2, read_timeout=5)
            i = 0
            while not stop.is_set():
                try:
                    if i % 2:
                        data = f"w{n}-{i}".encode()
                        out = client.put_record(StreamName=stream, Data=data, PartitionKey=f"k{i}")
                        got = [(out["ShardId"], out["SequenceNumber"], data)]
                    else:
                        batch = [f"w{n}-{i}-{j}".encode() for j in range(50)]
                        out = client.put_records(
                            StreamName=stream,
                            Records=[{"Data": d, "PartitionKey": d.decode()} for d in batch],
                        )
                        got = [
                            (r["ShardId"], r["SequenceNumber"], d)
                            for r, d in zip(out["Records"], batch, strict=True)
                        ]
                except (BotoCoreError, ClientError):
                    return  # the server died mid-call: the outcome of this call is unknown
                with lock:
                    acked.extend(got)
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        server.kill()
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        server.kill()
    assert len(acked) > 500, "the writers should have been acknowledged many records"

    restarted = ServerProcess(data_dir, "--durability", durability)
    restarted.start()
    try:
        shards = _read_all(make_client(restarted.endpoint), stream)
        # A write after the restart still gets a higher sequence number than all before it.
        client = make_client(restarted.endpoint)
        after = client.put_record(StreamName=stream, Data=b"after", PartitionKey="k1")
    finally:
        restarted.stop()

    stored: dict[tuple[str, str], bytes] = {}
    for shard_id, records in shards.items():
        numbers = [int(r["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), shard_id
        for r in records:
            stored[(shard_id, r["SequenceNumber"])] = r["Data"]
    counts: dict[bytes, int] = defaultdict(int)
    for data in stored.values():
        counts[data] += 1
    for shard_id, seq, data in acked:
        assert stored.get((shard_id, seq)) == data, f"acknowledged record lost: {seq}"
        assert counts[data] == 1, f"record stored more than once: {data!r}"
    last = max(int(r["SequenceNumber"]) for r in shards[after["ShardId"]])
    assert int(after["SequenceNumber"]) > last
