"""Resharding under load: split, merge and rescale while a writer writes and a reader reads.

The load tests run the same changes on a 2-shard stream while records flow both ways: SplitShard
of the first shard, MergeShards of two adjacent open shards of different parents, UpdateShardCount
2 -> 3 (which splits, merges, and opens and closes an intermediate shard in one change), each
waited ACTIVE. Afterwards every acknowledged record must have been read exactly once, where its
write was acknowledged; each key's counter must rise in read order across parents and children;
no record of a child may be read before the last record of its parents; and children must have
been read before the last change finished (the reader was genuinely concurrent).

- ``test_shardflow_producer_and_consumer``: Shardflow's producer (ordered mode, aggregated and
  plain) and consumer.
- ``test_bare_boto3``: a PutRecords thread and a GetRecords thread that follows ChildShards
  itself, so the server's guarantees are shown without our libraries.

Throughput limits are off (the session server, so the file also runs against another endpoint);
the writers are paced to about 2,000 records/s, near the 2-3 shards' write capacity, and the
consumer paces its reads as AWS's limits require. Order under throttling is tested in
tests/producer/test_real_limits.py.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from shardflow.consumer import AsyncConsumer, MemoryCheckpointStore, Record
from shardflow.model.kpl import deaggregate
from shardflow.producer import ProducerConfig, SyncProducer
from shardflow.producer.future import RecordFuture
from tests.conftest import REGION, make_client
from tests.helpers import key_for_shard, wait_active

KEYS = [f"key-{i:02d}" for i in range(16)]
WARMUP_S = 0.5  # records are read this long before the first change
PAUSE_S = 0.6  # and this long between changes, and after the last
ROUND_PAUSE_S = 0.008  # between rounds of one record per key: about 2,000 records/s
DRAIN_TIMEOUT_S = 20.0  # the reader must have everything this long after the writer stopped


class Read(NamedTuple):
    key: str
    n: int
    shard_id: str
    sequence_number: str
    subsequence_number: int
    at: float  # time.monotonic() when the reader got it


Ack = tuple[str, str, int]  # (shard id, sequence number, subsequence number) of a written record


def _payload(key: str, n: int) -> bytes:
    return f"{key}:{n}".encode()


def _parse(data: bytes) -> tuple[str, int]:
    key, n = data.decode().split(":")
    return key, int(n)


def _shards(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = kinesis.list_shards(StreamName=stream)["Shards"]
    return shards


def _is_open(shard: dict[str, Any]) -> bool:
    return "EndingSequenceNumber" not in shard["SequenceNumberRange"]


def _open_by_hash(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    return sorted(
        (s for s in _shards(kinesis, stream) if _is_open(s)),
        key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]),
    )


def _reshard(kinesis: Any, stream: str, first_read: threading.Event) -> list[float]:
    """Once the reader has read something: split, merge, rescale, each waited ACTIVE.

    Returns the monotonic times of the start and of each change's end.
    """
    assert first_read.wait(DRAIN_TIMEOUT_S), "the reader read nothing"
    time.sleep(WARMUP_S)
    marks = [time.monotonic()]
    first = _open_by_hash(kinesis, stream)[0]
    low = int(first["HashKeyRange"]["StartingHashKey"])
    high = int(first["HashKeyRange"]["EndingHashKey"])
    kinesis.split_shard(
        StreamName=stream, ShardToSplit=first["ShardId"], NewStartingHashKey=str((low + high) // 2)
    )
    wait_active(kinesis, stream)
    marks.append(time.monotonic())
    time.sleep(PAUSE_S)
    # The split's upper child and the shard above it: adjacent, with different parents.
    opened = _open_by_hash(kinesis, stream)
    kinesis.merge_shards(
        StreamName=stream,
        ShardToMerge=opened[1]["ShardId"],
        AdjacentShardToMerge=opened[2]["ShardId"],
    )
    wait_active(kinesis, stream)
    marks.append(time.monotonic())
    time.sleep(PAUSE_S)
    kinesis.update_shard_count(StreamName=stream, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    wait_active(kinesis, stream)
    marks.append(time.monotonic())
    time.sleep(PAUSE_S)
    return marks


def _check(
    reads: list[Read], acked: dict[tuple[str, int], Ack], shards: list[dict[str, Any]]
) -> None:
    """Exactly once, where acknowledged, in key order, parents first: over the reader's log."""
    seen = Counter((r.key, r.n) for r in reads)
    missing = sorted(set(acked) - set(seen))
    assert not missing, f"{len(missing)} acknowledged records never read, e.g. {missing[:5]}"
    unacked = sorted(set(seen) - set(acked))
    assert not unacked, f"read records that were never acknowledged: {unacked[:5]}"
    # Neither writer resends a record whose outcome is known, and the reader runs uninterrupted:
    # the consumer's at-least-once only repeats records after a crash or a lost lease.
    duplicates = [key_n for key_n, count in seen.items() if count > 1]
    assert not duplicates, f"{len(duplicates)} records read more than once, e.g. {duplicates[:5]}"
    for r in reads:
        assert (r.shard_id, r.sequence_number, r.subsequence_number) == acked[(r.key, r.n)], r
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in reads:
        by_key[r.key].append(r.n)
    for key, ns in by_key.items():
        late = next((i for i in range(1, len(ns)) if ns[i] < ns[i - 1]), None)
        assert late is None, f"{key}: {ns[late]} read after {ns[late - 1]}"
    # Lineage from ListShards: a child's first record is read after the last of each parent.
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, r in enumerate(reads):
        first.setdefault(r.shard_id, i)
        last[r.shard_id] = i
    by_id = {s["ShardId"]: s for s in shards}
    for shard in shards:
        for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")):
            if parent is None or parent not in by_id:
                continue
            assert not _is_open(by_id[parent]), f"{parent} has a child yet is open"
            if shard["ShardId"] in first and parent in last:
                assert last[parent] < first[shard["ShardId"]], (
                    f"{shard['ShardId']} read before its parent {parent} was finished"
                )


def _assert_concurrent(reads: list[Read], marks: list[float], shards: list[dict[str, Any]]) -> None:
    """Records were read before the first change, and children before the last one finished."""
    assert any(r.at < marks[0] for r in reads), "nothing was read before the first change"
    initial = {s["ShardId"] for s in shards if "ParentShardId" not in s}
    assert any(r.at < marks[-1] and r.shard_id not in initial for r in reads), (
        "no child shard was read before the last change finished"
    )


# --- Shardflow's producer and consumer -----------------------------------------------------


@pytest.mark.parametrize("aggregation", [True, False], ids=["aggregated", "plain"])
def test_shardflow_producer_and_consumer(
    kinesis: Any, endpoint: str, stream: str, aggregation: bool
) -> None:
    """Our producer writes, our consumer reads from TRIM_HORIZON, the shards change."""
    futures: dict[tuple[str, int], RecordFuture] = {}
    reads: list[Read] = []
    seen: set[tuple[str, int]] = set()
    first_read = threading.Event()
    stop_writing = threading.Event()
    written = threading.Event()  # every record put has its outcome
    final: list[dict[str, Any]] = []  # the shards, once the writer stopped
    errors: list[BaseException] = []
    store = MemoryCheckpointStore()

    def write() -> None:
        config = ProducerConfig(ordered=True, aggregation=aggregation, linger=0.02)
        try:
            with SyncProducer(stream, endpoint_url=endpoint, region=REGION, config=config) as p:
                for n in itertools.count():
                    if stop_writing.is_set():
                        break
                    for key in KEYS:
                        futures[(key, n)] = p.put(_payload(key, n), key)
                    time.sleep(ROUND_PAUSE_S)
        except BaseException as exc:
            errors.append(exc)
        finally:
            written.set()

    def drained(consumer: AsyncConsumer) -> bool:
        """Every acknowledged record read, every closed shard finished, every open one at tip."""
        if not final or len(seen) < len(futures) or not seen >= futures.keys():
            return False
        finished = {lease.shard_id for lease in store.leases(consumer.scope) if lease.finished}
        behind = consumer.millis_behind_latest
        return all(
            behind.get(s["ShardId"]) == 0 if _is_open(s) else s["ShardId"] in finished
            for s in final
        )

    def consume() -> None:
        async def main() -> None:
            async with AsyncConsumer(
                stream, store=store, endpoint_url=endpoint, region=REGION, idle_interval=0.1
            ) as consumer:
                watcher = asyncio.create_task(_close_when(consumer, drained, written))
                async for batch in consumer:
                    now = time.monotonic()
                    for r in batch.records:
                        key, n = _parse(r.data)
                        reads.append(
                            Read(key, n, r.shard_id, r.sequence_number, r.subsequence_number, now)
                        )
                        seen.add((key, n))
                    first_read.set()
                await watcher

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write, name="writer")
    reader = threading.Thread(target=consume, name="reader")
    reader.start()
    writer.start()
    try:
        marks = _reshard(kinesis, stream, first_read)
    finally:
        stop_writing.set()
        writer.join()
        final.extend(_shards(kinesis, stream))
        reader.join(DRAIN_TIMEOUT_S + 5)
    assert not reader.is_alive(), "the consumer did not stop"
    assert not errors, errors

    acked: dict[tuple[str, int], Ack] = {}
    for key_n, fut in futures.items():
        result = fut.result(timeout=0)  # raises if the record failed
        acked[key_n] = (result.shard_id, result.sequence_number, result.subsequence_number)
    _check(reads, acked, final)
    _assert_concurrent(reads, marks, final)
    assert sum(1 for s in final if _is_open(s)) == 3


async def _close_when(
    consumer: AsyncConsumer, drained: Callable[[AsyncConsumer], bool], written: threading.Event
) -> None:
    """Close the consumer once it drained the stream (or DRAIN_TIMEOUT_S after the writer)."""
    deadline: float | None = None
    while not drained(consumer):
        if written.is_set() and deadline is None:
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
        if deadline is not None and time.monotonic() > deadline:
            break  # the checks then say what is missing
        await asyncio.sleep(0.05)
    await consumer.close()


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "unordered"])
def test_an_aggregate_split_in_flight_is_written_again_where_it_belongs(
    kinesis: Any, endpoint: str, stream_name: str, ordered: bool
) -> None:
    """The window the load test hits by chance, made certain.

    The producer still maps one shard when it is split: its next aggregate, routed by its first
    key's hash, lands in the lower child with the upper key's records in it. The producer writes
    those again to the upper child, the consumer drops the copies (as the KCL does), and each
    record is read once, in order.
    """
    kinesis.create_stream(StreamName=stream_name, ShardCount=1)
    try:
        wait_active(kinesis, stream_name)
        low, high = key_for_shard(0, 2), key_for_shard(1, 2)  # either side of 2**127
        config = ProducerConfig(ordered=ordered, linger=0.05, shard_map_min_refresh=0.05)
        with SyncProducer(stream_name, endpoint_url=endpoint, region=REGION, config=config) as p:
            kinesis.split_shard(
                StreamName=stream_name,
                ShardToSplit="shardId-000000000000",
                NewStartingHashKey=str(2**127),
            )
            wait_active(kinesis, stream_name)
            futures = {(k, n): p.put(_payload(k, n), k) for n in range(5) for k in (low, high)}
            p.flush()
        results = {key_n: f.result(timeout=0) for key_n, f in futures.items()}
        lower, upper = "shardId-000000000001", "shardId-000000000002"
        assert {r.shard_id for (k, _), r in results.items() if k == low} == {lower}
        assert {r.shard_id for (k, _), r in results.items() if k == high} == {upper}
        # The lower child really holds copies of the upper key's records.
        it = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=lower, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        raw = kinesis.get_records(ShardIterator=it)["Records"]
        copies = [u for r in raw for u in deaggregate(r["PartitionKey"], r["Data"])]
        assert {u.partition_key for u in copies} == {low, high}

        async def read() -> list[Record]:
            async with AsyncConsumer(
                stream_name,
                store=MemoryCheckpointStore(),
                client=make_client(endpoint),
                stop_at_tip=True,
                read_limits=False,
            ) as consumer:
                return [r async for r in consumer.records()]

        got = [(*_parse(r.data), r.shard_id) for r in asyncio.run(read())]
        for key in (low, high):
            assert [n for k, n, _ in got if k == key] == list(range(5))
        assert {(k, n): shard for k, n, shard in got} == {
            key_n: r.shard_id for key_n, r in results.items()
        }
    finally:
        kinesis.delete_stream(StreamName=stream_name)


# --- bare boto3 ----------------------------------------------------------------------------


def test_bare_boto3(kinesis: Any, stream: str) -> None:
    """PutRecords and GetRecords threads; the reader follows ChildShards on its own."""
    endpoint = kinesis.meta.endpoint_url
    acked: dict[tuple[str, int], Ack] = {}
    reads: list[Read] = []
    first_read = threading.Event()
    stop_writing = threading.Event()
    written = threading.Event()
    errors: list[BaseException] = []
    roots = [s["ShardId"] for s in _shards(kinesis, stream)]
    started = set(roots)  # shards the reader has begun

    def write() -> None:
        """One record per key per call; a key's failed record is resent before its next one."""
        client = make_client(endpoint)
        try:
            pending: list[tuple[str, int]] = []
            for n in itertools.count():
                if stop_writing.is_set() and not pending:
                    break
                if not pending:
                    pending = [(key, n) for key in KEYS]
                out = client.put_records(
                    StreamName=stream,
                    Records=[{"PartitionKey": k, "Data": _payload(k, i)} for k, i in pending],
                )
                failed = []
                for (k, i), result in zip(pending, out["Records"], strict=True):
                    if "ErrorCode" in result:
                        failed.append((k, i))
                    else:
                        acked[(k, i)] = (result["ShardId"], result["SequenceNumber"], 0)
                pending = failed
                time.sleep(ROUND_PAUSE_S)
        except BaseException as exc:
            errors.append(exc)
        finally:
            written.set()

    def read() -> None:
        """Round-robin over the shards being read; a child starts once all its parents ended."""
        client = make_client(endpoint)

        def start(shard_id: str) -> str:
            out = client.get_shard_iterator(
                StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )
            return str(out["ShardIterator"])

        try:
            iterators = {shard_id: start(shard_id) for shard_id in roots}
            ended: set[str] = set()
            deadline: float | None = None
            while True:
                last_pass = written.is_set()  # the writer had finished before this pass began
                if last_pass and deadline is None:
                    deadline = time.monotonic() + DRAIN_TIMEOUT_S
                progress = False
                for shard_id in list(iterators):
                    page = client.get_records(ShardIterator=iterators[shard_id], Limit=1000)
                    now = time.monotonic()
                    for r in page["Records"]:
                        key, n = _parse(r["Data"])
                        reads.append(Read(key, n, shard_id, r["SequenceNumber"], 0, now))
                        first_read.set()
                    progress |= bool(page["Records"]) or page["MillisBehindLatest"] > 0
                    if page.get("NextShardIterator") is not None:
                        iterators[shard_id] = page["NextShardIterator"]
                        continue
                    progress = True  # the shard ended: its children may start
                    del iterators[shard_id]
                    ended.add(shard_id)
                    for child in page["ChildShards"]:
                        child_id = child["ShardId"]
                        if child_id not in started and set(child["ParentShards"]) <= ended:
                            started.add(child_id)
                            iterators[child_id] = start(child_id)
                if last_pass and not progress:
                    return  # every shard being read is open and read to its tip
                if deadline is not None and time.monotonic() > deadline:
                    raise AssertionError(f"still reading {DRAIN_TIMEOUT_S}s after the writer")
                if not progress:
                    time.sleep(0.02)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=write, name="writer")
    reader = threading.Thread(target=read, name="reader")
    reader.start()
    writer.start()
    try:
        marks = _reshard(kinesis, stream, first_read)
    finally:
        stop_writing.set()
        writer.join()
        reader.join(DRAIN_TIMEOUT_S + 5)
    assert not reader.is_alive(), "the reader did not stop"
    assert not errors, errors
    final = _shards(kinesis, stream)
    _check(reads, acked, final)
    _assert_concurrent(reads, marks, final)
    assert {s["ShardId"] for s in final if _is_open(s)} <= started, "an open shard never reached"
