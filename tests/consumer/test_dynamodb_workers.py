"""Two consumer processes share an 8-shard stream through a DynamoDB lease table (moto's server).

Each worker (tests/consumer/worker.py, its own worker id and working directory) writes every
record it is handed to a file before asking for more. The table is read only through DynamoDB's
API; nothing here knows how the workers decide.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from shardflow.consumer.records import Position, Record
from shardflow.consumer.verification import Verifier
from tests.consumer.dynamodb import DynamoDBServer, unique_table
from tests.consumer.support import create_stream, read_lines, start_worker, wait_for

SHARDS = 8
LEASE_DURATION = 3.0  # the failover time: renewals every second
# Takeover: the failover time as B sees it, plus up to two coordination rounds, plus a loaded
# machine's slack. Generous on purpose; the measured time is printed.
TAKEOVER_BOUND_S = LEASE_DURATION + 2 * LEASE_DURATION / 3 + 10.0
KEYS = 64


def _scan(client: Any, table: str) -> dict[str, dict[str, Any]]:
    items = client.scan(TableName=table, ConsistentRead=True).get("Items", [])
    return {i["leaseKey"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in items}


def _owners(client: Any, table: str) -> dict[str, str | None]:
    try:
        return {shard: item.get("leaseOwner") for shard, item in _scan(client, table).items()}
    except client.exceptions.ResourceNotFoundException:
        return {}


class Producer(threading.Thread):
    """Writes events {"key", "seq"} with a per-key counter until stopped."""

    def __init__(self, kinesis: Any, stream: str) -> None:
        super().__init__(daemon=True)
        self.kinesis, self.stream = kinesis, stream
        self.stop = threading.Event()
        self.written: dict[str, int] = defaultdict(int)

    def run(self) -> None:
        while not self.stop.is_set():
            entries = []
            for k in range(KEYS):
                key = f"k{k:03d}"
                self.written[key] += 1
                event = {"key": key, "seq": self.written[key]}
                entries.append({"PartitionKey": key, "Data": json.dumps(event).encode()})
            out = self.kinesis.put_records(StreamName=self.stream, Records=entries)
            assert out["FailedRecordCount"] == 0
            time.sleep(0.1)


def _position(line: dict[str, Any]) -> Position:
    return Position(int(line["seq"]), line["sub"])


def test_two_processes_share_shards_and_one_takes_over_after_kill_9(
    kinesis: Any, endpoint: str, stream_name: str, tmp_path: Path, dynamodb_server: DynamoDBServer
) -> None:
    create_stream(kinesis, stream_name, SHARDS)
    table, client = unique_table(), dynamodb_server.client()
    store = f"dynamodb:{table}"
    dirs = {name: tmp_path / name for name in ("A", "B")}
    for d in dirs.values():
        d.mkdir()
    out = {name: d / "records.jsonl" for name, d in dirs.items()}
    common = ("--lease-duration", str(LEASE_DURATION), "--checkpoint-interval", "0.5")
    env = dynamodb_server.env()
    workers = {
        name: start_worker(
            endpoint,
            stream_name,
            store,
            out[name],
            "--worker-id",
            name,
            *common,
            env=env,
            cwd=dirs[name],
            log=dirs[name] / "worker.log",
        )
        for name in ("A", "B")
    }
    producer = Producer(kinesis, stream_name)
    try:

        def split_evenly() -> bool:
            owners = list(_owners(client, table).values())
            return len(owners) == SHARDS and owners.count("A") == owners.count("B") == SHARDS // 2

        wait_for(split_evenly, 60, "A and B to hold four shards each")
        a_shards = {s for s, owner in _owners(client, table).items() if owner == "A"}
        # A worker whose lease was stolen reads on until its next renewal is refused: let the
        # last steal settle, so that the only records read twice are those in flight at the kill.
        time.sleep(LEASE_DURATION)
        assert a_shards == {s for s, owner in _owners(client, table).items() if owner == "A"}
        producer.start()
        wait_for(
            lambda: a_shards <= {x["shard"] for x in read_lines(out["A"])},
            30,
            "A to read from each of its shards",
        )
        time.sleep(1.0)  # A checkpoints as it reads: the kill lands between checkpoints
        workers["A"].kill()  # SIGKILL: no release, no last checkpoint
        killed = time.monotonic()
        workers["A"].wait()
        at_kill = _scan(client, table)  # B cannot have taken anything yet (failover time)
        wait_for(
            lambda: all(_owners(client, table)[s] == "B" for s in a_shards),
            TAKEOVER_BOUND_S + 20,
            "B to take A's shards",
        )
        takeover = time.monotonic() - killed
        time.sleep(1.0)  # the producer keeps writing while B reads A's shards
        producer.stop.set()
        producer.join()
        total = sum(producer.written.values())

        def everything_read() -> bool:
            lines = read_lines(out["A"]) + read_lines(out["B"])
            return len({(x["shard"], x["seq"], x["sub"]) for x in lines}) >= total

        wait_for(everything_read, 60, "every record to be read")
    finally:
        producer.stop.set()
        for proc in workers.values():
            proc.kill()
            proc.wait()
    print(f"takeover after kill -9: {takeover:.2f}s (lease duration {LEASE_DURATION}s)")
    assert takeover <= TAKEOVER_BOUND_S, takeover

    lines_a, lines_b = read_lines(out["A"]), read_lines(out["B"])
    checkpoints = {
        s: Position(int(at_kill[s]["checkpoint"]), int(at_kill[s]["checkpointSubSequenceNumber"]))
        for s in a_shards
        if at_kill[s]["checkpoint"].isdigit()
    }
    # Each worker read each of its shards in order, without repeating itself.
    for lines in (lines_a, lines_b):
        for shard in {x["shard"] for x in lines}:
            seen = [_position(x) for x in lines if x["shard"] == shard]
            assert seen == sorted(set(seen)), shard
    # The fleet's view, shard by shard: what A read, then what B read beyond it.
    verifier = Verifier(key_field="key", counter_field="seq")
    duplicates = in_flight = 0
    for shard in sorted({x["shard"] for x in lines_a + lines_b}):
        a = [x for x in lines_a if x["shard"] == shard]
        a_last = max((_position(x) for x in a), default=None)
        b = [x for x in lines_b if x["shard"] == shard]
        again = [x for x in b if a_last is not None and _position(x) <= a_last]
        assert {_position(x) for x in again} <= {_position(x) for x in a}  # no hidden gap
        duplicates += len(again)
        if shard in a_shards:
            checkpoint = checkpoints.get(shard)
            after = [x for x in a if checkpoint is None or _position(x) > checkpoint]
            in_flight += len(after)
            # B resumed right after A's last checkpoint: only what A read past it comes again
            assert b and (checkpoint is None or min(_position(x) for x in b) > checkpoint)
        for x in a + [x for x in b if x not in again]:
            verifier.add(Record(shard, x["seq"], x["sub"], "", x["data"].encode()))
    report = verifier.report()
    print(f"{report.records} records, {duplicates} read twice, {in_flight} in flight at the kill")
    assert report.records == total and report.missing == 0
    assert report.order_violations == 0 and report.shard_order_violations == 0
    assert report.duplicates == 0  # the producer never resends; duplicates are counted above
    assert duplicates <= in_flight
    assert {s for s in a_shards if any(x["shard"] == s for x in lines_b)} == a_shards
