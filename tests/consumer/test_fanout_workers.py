"""Two consumer processes share a stream through a lease table, one of them reading with
enhanced fan-out; a shard splits during the run and the polling worker is killed (SIGKILL)
while a producer writes. Nothing is lost, no key goes out of order, and the only duplicates are
the records the killed worker had handed out past its last checkpoint.

Runs on both lease stores through the CheckpointStore protocol: SQLite (one machine) and
DynamoDB (moto's server on loopback, tests/consumer/dynamodb.py). The Kinesis server ends
subscriptions after 2 s (``--testing-subscription-max-s``), so the fan-out worker also
resubscribes many times, with AWS's limits on.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shardflow.cli.main import main
from shardflow.consumer import CheckpointStore, DynamoDBCheckpointStore, SQLiteCheckpointStore
from shardflow.consumer.records import Position
from shardflow.model.hashing import partition_hash
from tests.conftest import REGION, make_client
from tests.consumer.dynamodb import unique_table
from tests.consumer.support import create_stream, read_lines, start_worker, wait_for
from tests.support import ServerProcess, server_of_its_own

SHARDS = 8
KEYS = 64
LEASE_S = 4.0  # failover: a lease whose counter stands still this long is taken (loaded CI)
CHECKPOINT_S = 0.2
TAKEOVER_SLACK_S = 4.0
IN_FLIGHT_S = 3.0  # generous: a loaded machine delays the checkpointer's flushes


@pytest.fixture(scope="module")
def kinesis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(
        tmp_path_factory.mktemp("fanout-workers") / "data",
        "--testing-subscription-max-s",
        "2",
        limits=True,
    )


Store = tuple[str, dict[str, str] | None, Callable[[], CheckpointStore]]


@pytest.fixture(params=["sqlite", "dynamodb"])
def lease_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """(the worker's store argument, its environment, a way to open the same store here)."""
    if request.param == "sqlite":
        path = tmp_path / "leases.sqlite"
        return str(path), None, lambda: SQLiteCheckpointStore(path)
    dynamodb = request.getfixturevalue("dynamodb_server")
    table = unique_table()
    return (
        f"dynamodb:{table}",
        dynamodb.env(),
        lambda: DynamoDBCheckpointStore(table, client=dynamodb.client()),
    )


class Producer(threading.Thread):
    """Writes one record per key per round, counters 1, 2, 3 … in order per key."""

    def __init__(self, kinesis: Any, stream: str) -> None:
        super().__init__(daemon=True)
        self.kinesis, self.stream = kinesis, stream
        self.rounds = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                seq = self.rounds + 1
                entries = [
                    {
                        "PartitionKey": f"k{k:03d}",
                        "Data": json.dumps({"key": f"k{k:03d}", "seq": seq}).encode(),
                    }
                    for k in range(KEYS)
                ]
                out = self.kinesis.put_records(StreamName=self.stream, Records=entries)
                assert out["FailedRecordCount"] == 0
                self.rounds = seq
                time.sleep(0.05)
        except BaseException as exc:
            self.error = exc


def _split_point(kinesis: Any, stream: str, candidates: list[str]) -> tuple[str, int]:
    """A shard among ``candidates`` and a hash key in it with some of the keys on each side."""
    hashes = [partition_hash(f"k{k:03d}") for k in range(KEYS)]
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        if shard["ShardId"] not in candidates:
            continue
        low = int(shard["HashKeyRange"]["StartingHashKey"])
        high = int(shard["HashKeyRange"]["EndingHashKey"])
        mine = sorted(h for h in hashes if low <= h <= high)
        if len(mine) >= 2:
            return shard["ShardId"], mine[len(mine) // 2]
    raise AssertionError(f"no shard of {candidates} has two keys")


def _counters(line: dict[str, Any]) -> tuple[str, int]:
    event = json.loads(line["data"])
    return event["key"], event["seq"]


def test_fan_out_and_polling_workers_across_a_split_and_a_kill(
    kinesis_server: ServerProcess, stream_name: str, lease_store: Store, tmp_path: Path
) -> None:
    kinesis = make_client(kinesis_server.endpoint)
    create_stream(kinesis, stream_name, SHARDS)
    summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    stamp = int(summary["StreamCreationTimestamp"].timestamp() * 1000)
    scope = f"shardflow/{stream_name}@{stamp}"  # as the consumer names (application, stream)
    spec, env, open_store = lease_store
    store = open_store()

    def owners() -> dict[str, str | None]:
        return {lease.shard_id: lease.owner for lease in store.leases(scope)}

    def finished() -> set[str]:
        return {lease.shard_id for lease in store.leases(scope) if lease.finished}

    outputs = {name: tmp_path / name / "records.jsonl" for name in ("A", "B")}
    for path in outputs.values():
        path.parent.mkdir()
    common = ("--lease-duration", str(LEASE_S), "--checkpoint-interval", str(CHECKPOINT_S))
    workers = {
        "A": start_worker(
            kinesis_server.endpoint,
            stream_name,
            spec,
            outputs["A"],
            *("--worker-id", "A", "--fan-out", "fo-workers", *common),
            env=env,
            cwd=outputs["A"].parent,
        ),
        "B": start_worker(
            kinesis_server.endpoint,
            stream_name,
            spec,
            outputs["B"],
            *("--worker-id", "B", "--limit", "50", *common),
            env=env,
            cwd=outputs["B"].parent,
        ),
    }
    producer = Producer(kinesis, stream_name)
    try:
        wait_for(
            lambda: sorted(owners().values(), key=str) == ["A"] * 4 + ["B"] * 4,
            90,
            "A and B to hold four shards each",
        )
        producer.start()
        a_shards = sorted(s for s, owner in owners().items() if owner == "A")
        wait_for(
            lambda: all(read_lines(path) for path in outputs.values()), 30, "both workers to read"
        )
        # Split a shard the fan-out worker reads, at a hash key with keys on both sides: the
        # fan-out reader follows the children once the parent ends.
        parent, middle = _split_point(kinesis, stream_name, a_shards)
        kinesis.split_shard(
            StreamName=stream_name, ShardToSplit=parent, NewStartingHashKey=str(middle)
        )
        wait_for(lambda: parent in finished(), 60, "the split parent to be read to its end")
        wait_for(
            lambda: (
                len(owners()) == SHARDS + 2
                and all(o is not None for s, o in owners().items() if s not in finished())
            ),
            60,
            "the children to be leased",
        )
        time.sleep(1.0)
        # Kill the polling worker mid-stream; what it holds at that moment is in flight.
        at_kill = {lease.shard_id: lease for lease in store.leases(scope)}
        workers["B"].kill()
        workers["B"].wait()
        killed_at = time.time()
        since_kill = time.monotonic()
        b_held = {s for s, lease in at_kill.items() if lease.owner == "B" and not lease.finished}
        assert b_held, at_kill
        wait_for(
            lambda: {o for s, o in owners().items() if s not in finished()} == {"A"},
            60,
            "A to take over B's shards",
        )
        takeover = time.monotonic() - since_kill
        time.sleep(2.0)  # A reads them for a while, the producer still writing
        producer.stop.set()
        producer.join(10)
        assert producer.error is None, producer.error
        rounds = producer.rounds

        def complete() -> bool:
            got = {_counters(x) for name in ("A", "B") for x in read_lines(outputs[name])}
            return len(got) == KEYS * rounds

        wait_for(complete, 90, "every record to be read")
        verified = CliRunner().invoke(
            main,
            [
                "verify",
                stream_name,
                "--json",
                "--endpoint-url",
                kinesis_server.endpoint,
                "--region",
                REGION,
            ],
        )
    finally:
        producer.stop.set()
        for name, proc in workers.items():
            proc.kill()
            proc.wait()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            print(f"--- worker {name} (exit {proc.returncode}):\n{err[-3000:]}")
        print("leases:", store.leases(scope))
        store.close()

    # The stream itself holds every record, each key in order (`shardflow verify`).
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output)
    assert report["records"] == KEYS * rounds and report["missing"] == 0
    assert report["order_violations"] == 0 and report["duplicates"] == 0
    # A took B's shards within the failover time (plus a coordination round and slack for a
    # loaded machine).
    assert takeover <= LEASE_S + LEASE_S / 3 + TAKEOVER_SLACK_S, takeover
    lines = {name: read_lines(path) for name, path in outputs.items()}
    # Nothing lost: every key's counters 1..rounds.
    seen: dict[str, set[int]] = defaultdict(set)
    for line in lines["A"] + lines["B"]:
        key, seq = _counters(line)
        seen[key].add(seq)
    assert {key: len(seqs) for key, seqs in seen.items()} == {
        f"k{k:03d}": rounds for k in range(KEYS)
    }
    assert all(seqs == set(range(1, rounds + 1)) for seqs in seen.values())
    # No key out of order: within each worker, each key's counters only go up, but for resends.
    for name, mine in lines.items():
        top: dict[str, int] = {}
        had: dict[str, set[int]] = defaultdict(set)
        for line in mine:
            key, seq = _counters(line)
            assert seq > top.get(key, 0) or seq in had[key], (name, key, seq, top.get(key))
            top[key] = max(seq, top.get(key, 0))
            had[key].add(seq)
    # Both modes read, and the fan-out worker read the split's children and B's shards.
    a_read = {x["shard"] for x in lines["A"]}
    children = {s for s, lease in at_kill.items() if parent in lease.parents}
    assert len(children) == 2 and children | b_held | {parent} <= a_read
    assert {x["shard"] for x in lines["B"]} >= b_held
    # Duplicates bounded by what was in flight: a record is handed out again only if the
    # worker that had it stopped reading its shard (killed, or its lease expired) within
    # IN_FLIGHT_S of handing it out; after the kill, only past B's checkpoint there.
    delivered: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for line in lines["A"] + lines["B"]:
        delivered[_counters(line)].append(line)
    duplicates = {k: sorted(v, key=lambda x: x["t"]) for k, v in delivered.items() if len(v) > 1}
    for counters, (first, again, *_) in duplicates.items():
        stint = [
            x["t"]
            for x in lines[first["w"]]
            if x["shard"] == first["shard"] and x["t"] <= again["t"]
        ]
        assert first["t"] >= max(stint) - IN_FLIGHT_S, (counters, first, again)
        if first["w"] == "B" and again["t"] >= killed_at:
            checkpoint = at_kill[first["shard"]].checkpoint
            position = Position(int(first["seq"]), first["sub"])
            assert checkpoint is None or position > checkpoint, (counters, checkpoint)
    assert len(duplicates) <= KEYS * IN_FLIGHT_S / 0.05  # at most IN_FLIGHT_S of writing
    print(
        f"{KEYS * rounds} records ({rounds} rounds), {len(duplicates)} duplicates,"
        f" takeover {takeover:.1f}s,"
        f" A {len(lines['A'])} lines, B {len(lines['B'])} lines"
    )
