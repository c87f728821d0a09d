"""A reshard is atomic in storage: SIGKILL the server while it splits and merges under writes.

After each restart the shard map must be either the one before a change or the one after it:
the open shards partition the hash key space exactly, every parent is closed with an
EndingSequenceNumber, every child names parents that exist, no shard id is reused, and every
acknowledged record is read back once, in per-key order.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import make_client
from tests.helpers import HASH_KEY_SPACE
from tests.support import ServerProcess

ROUNDS = 3
KEYS = 24
MAX_OPEN_SHARDS = 8

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="needs a server this test can kill"
)


def _open_shards(client: Any, stream: str) -> list[dict[str, Any]]:
    shards = client.list_shards(StreamName=stream)["Shards"]
    open_ = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    return sorted(open_, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))


def _width(shard: dict[str, Any]) -> int:
    r = shard["HashKeyRange"]
    return int(r["EndingHashKey"]) - int(r["StartingHashKey"]) + 1


def _reshard_once(client: Any, stream: str, rng: random.Random) -> None:
    """One split, merge or UpdateShardCount, chosen to keep 2..MAX_OPEN_SHARDS open shards."""
    shards = _open_shards(client, stream)
    roll = rng.random()
    if roll < 0.15:
        target = rng.randint(max(2, (len(shards) + 1) // 2), min(MAX_OPEN_SHARDS, 2 * len(shards)))
        if target != len(shards):
            client.update_shard_count(
                StreamName=stream, TargetShardCount=target, ScalingType="UNIFORM_SCALING"
            )
    elif len(shards) < MAX_OPEN_SHARDS and (len(shards) <= 2 or roll < 0.55):
        widest = max(shards, key=_width)
        middle = int(widest["HashKeyRange"]["StartingHashKey"]) + _width(widest) // 2
        client.split_shard(
            StreamName=stream, ShardToSplit=widest["ShardId"], NewStartingHashKey=str(middle)
        )
    else:
        pairs = list(itertools.pairwise(shards))
        left, right = min(pairs, key=lambda p: _width(p[0]) + _width(p[1]))
        client.merge_shards(
            StreamName=stream, ShardToMerge=left["ShardId"], AdjacentShardToMerge=right["ShardId"]
        )


def _run_until_killed(server: ServerProcess, stream: str, seed: int, acked: list[Any]) -> int:
    """Write keyed records and reshard until a random SIGKILL; return the reshards acknowledged."""
    rng = random.Random(seed)
    stop = threading.Event()
    lock = threading.Lock()
    reshards = 0

    def writer(keys: list[str]) -> None:
        client = make_client(server.endpoint, connect_timeout=2, read_timeout=5)
        counters = dict.fromkeys(keys, 0)
        while not stop.is_set():
            batch = [(k, counters[k]) for k in keys]
            try:
                out = client.put_records(
                    StreamName=stream,
                    Records=[{"Data": f"{k}:{n}".encode(), "PartitionKey": k} for k, n in batch],
                )
            except (BotoCoreError, ClientError):
                return  # the server died mid-call: its outcome is unknown
            with lock:
                for (k, n), r in zip(batch, out["Records"], strict=True):
                    if "SequenceNumber" in r:
                        acked.append((r["ShardId"], r["SequenceNumber"], f"{k}:{n}".encode()))
            for (k, _), r in zip(batch, out["Records"], strict=True):
                if "SequenceNumber" in r:  # one record per key a batch: a failed one is resent
                    counters[k] += 1

    def resharder() -> None:
        nonlocal reshards
        client = make_client(server.endpoint, connect_timeout=2, read_timeout=5)
        while not stop.is_set():
            try:
                _reshard_once(client, stream, rng)
                reshards += 1
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code not in ("ResourceInUseException", "LimitExceededException"):
                    raise
            except BotoCoreError:
                return

    keys = [f"key-{seed}-{i}" for i in range(KEYS)]
    threads = [threading.Thread(target=writer, args=(keys[i::3],)) for i in range(3)]
    threads.append(threading.Thread(target=resharder))
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.6, 1.6))
    server.kill()
    stop.set()
    for t in threads:
        t.join(10)
    return reshards


def _read_every_shard(client: Any, stream: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            out += [dict(r, ShardId=shard["ShardId"]) for r in page["Records"]]
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return out


def _assert_consistent_shard_map(client: Any, stream: str) -> list[str]:
    summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    shards = client.list_shards(StreamName=stream)["Shards"]
    ids = [s["ShardId"] for s in shards]
    assert len(ids) == len(set(ids)), "a shard id was reused"
    by_id = {s["ShardId"]: s for s in shards}
    open_ = _open_shards(client, stream)
    assert summary["OpenShardCount"] == len(open_)
    expected_start = 0
    for shard in open_:  # the open shards cover [0, 2^128 - 1] with no gap and no overlap
        assert int(shard["HashKeyRange"]["StartingHashKey"]) == expected_start
        expected_start = int(shard["HashKeyRange"]["EndingHashKey"]) + 1
    assert expected_start == HASH_KEY_SPACE
    for shard in shards:
        for parent_field in ("ParentShardId", "AdjacentParentShardId"):
            parent = by_id.get(shard.get(parent_field, ""))
            if parent_field in shard:
                assert parent is not None, f"{shard['ShardId']} names a missing parent"
                assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    return ids


def test_kill_9_mid_reshard_leaves_old_or_new_state(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stream = f"reshard-crash-{uuid.uuid4().hex[:8]}"
    acked: list[tuple[str, str, bytes]] = []
    server = ServerProcess(data_dir)
    server.start()
    make_client(server.endpoint).create_stream(StreamName=stream, ShardCount=2)
    known_ids: list[str] = []
    total_reshards = 0
    for round_ in range(ROUNDS):
        client = make_client(server.endpoint)
        for _ in range(100):
            if (
                client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
                    "StreamStatus"
                ]
                == "ACTIVE"
            ):
                break
            time.sleep(0.05)
        total_reshards += _run_until_killed(server, stream, seed=round_, acked=acked)
        server = ServerProcess(data_dir)
        server.start()
        ids = _assert_consistent_shard_map(make_client(server.endpoint), stream)
        assert ids[: len(known_ids)] == known_ids[: len(ids)], "shard history changed"
        known_ids = ids
    try:
        client = make_client(server.endpoint)
        records = _read_every_shard(client, stream)
    finally:
        server.stop()

    assert total_reshards >= 3, "the resharder should have changed the shards several times"
    assert len(acked) > 1000, "the writers should have been acknowledged many records"
    stored: dict[tuple[str, str], bytes] = {}
    copies: dict[bytes, int] = defaultdict(int)
    by_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in records:
        stored[(r["ShardId"], r["SequenceNumber"])] = r["Data"]
        copies[r["Data"]] += 1
        key, n = r["Data"].decode().split(":")
        by_key[key].append((int(n), int(r["SequenceNumber"])))
    for shard_id, seq, data in acked:
        assert stored.get((shard_id, seq)) == data, f"acknowledged record lost: {data!r}"
        assert copies[data] == 1, f"record stored more than once: {data!r}"
    for key, pairs in by_key.items():
        pairs.sort()
        numbers = [seq for _, seq in pairs]
        assert numbers == sorted(numbers), f"{key}: later records got lower sequence numbers"
