"""A queue under load with crashes: records written while 4 queue consumers receive and
acknowledge, some records "poison" (their consumer never acknowledges them), and optionally a
``kill -9`` of the server mid-run followed by a restart.

What it checks (``Outcome.problems``): every record written is acknowledged at least once;
poison records come back after the visibility timeout, become dead letters after
MaxReceiveCount receives, and restoring them puts them back on the receive path; no record is
received by a request sent after its acknowledgement was answered (an answered acknowledgement
is durable, even across ``kill -9``).

The suite runs it small (tests/queues/test_queue_crash.py); the full run is
``python -m tests.queues.workload --records 100000`` (docs/queues.md has its figures).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import make_client
from tests.helpers import stream_arn
from tests.support import ServerProcess

CONSUMERS = 4
POISON_EVERY = 97  # record numbers divisible by this are never acknowledged by their consumer
MAX_RECEIVE_COUNT = 3
VISIBILITY_S = 1


@dataclass
class Outcome:
    records: int
    elapsed_s: float = 0.0
    receives: int = 0
    deliveries: int = 0
    redeliveries: int = 0
    acked: set[int] = field(default_factory=set)
    # RecordId -> when its first acknowledgement was answered (by RecordId: a producer retry
    # after a kill may write the same data twice, as a second record)
    ack_answered: dict[str, float] = field(default_factory=dict)
    late: list[str] = field(default_factory=list)  # received by a request sent after its ack
    dead: dict[int, int] = field(default_factory=dict)  # poison record -> ReceiveCount
    restored: int = 0
    kills: int = 0
    problems: list[str] = field(default_factory=list)


def _retrying(call: Callable[[], Any], stop: threading.Event | None = None) -> Any:
    """Call until the server answers (it may be down between a kill and its restart)."""
    while True:
        try:
            return call()
        except (BotoCoreError, ClientError):
            if stop is not None and stop.is_set():
                return None
            time.sleep(0.05)


def run(server: ServerProcess, records: int, kill_at: float | None) -> Outcome:
    """Write ``records`` records and consume them; ``kill_at`` (0-1): kill -9 and restart the
    server once that share of records has been acknowledged."""
    out = Outcome(records)
    endpoint = server.endpoint
    admin = make_client(endpoint)
    name = f"queue-run-{int(time.time() * 1000)}"
    admin.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    admin.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
    queue = admin.create_queue(
        QueueName=name,
        StreamConfigurationList=[
            {"StreamARN": stream_arn(name), "StartingPosition": {"Type": "TRIM_HORIZON"}}
        ],
        QueueAttributes={
            "VisibilityTimeoutSeconds": VISIBILITY_S,
            "DeadLetterConfiguration": {
                "TargetType": "BUILT_IN",
                "MaxReceiveCount": MAX_RECEIVE_COUNT,
            },
        },
    )["QueueDescription"]["QueueARN"]
    lock = threading.Lock()
    stop = threading.Event()
    produced = threading.Event()
    poison = {i for i in range(records) if i % POISON_EVERY == 0}
    started = time.monotonic()

    def produce() -> None:
        client = make_client(endpoint)
        for start in range(0, records, 500):
            batch = [
                {"Data": str(i).encode(), "PartitionKey": str(i)}
                for i in range(start, min(start + 500, records))
            ]
            while batch:
                result = _retrying(lambda b=batch: client.put_records(StreamName=name, Records=b))
                batch = [
                    b for b, r in zip(batch, result["Records"], strict=True) if "ErrorCode" in r
                ]
        produced.set()

    def consume() -> None:
        client = make_client(endpoint)
        seen: set[int] = set()
        while not stop.is_set():
            sent = time.monotonic()
            got = _retrying(
                lambda: client.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1), stop
            )
            if got is None:
                return
            entries = []
            with lock:
                out.receives += 1
                for r in got["QueueRecords"]:
                    number = int(r["Data"])
                    out.deliveries += 1
                    if number in seen or r["ReceiveCount"] > 1:
                        out.redeliveries += 1
                    seen.add(number)
                    answered = out.ack_answered.get(r["RecordId"])
                    if answered is not None and sent > answered:
                        out.late.append(r["RecordId"])
                    if number not in poison:
                        entries.append((number, r["RecordId"], r["ReceiptHandle"]))
            if not entries:
                continue
            attempts = 0

            def acknowledge(e: list[tuple[int, str, str]] = entries) -> Any:
                nonlocal attempts
                attempts += 1
                return client.acknowledge_queue_records(
                    QueueARN=queue, Entries=[{"ReceiptHandle": h} for _, _, h in e]
                )

            result = _retrying(acknowledge, stop)
            if result is None:
                return
            now = time.monotonic()
            ok = {s["ReceiptHandle"] for s in result["Successful"]}
            if attempts > 1:  # the server died before answering: an earlier attempt may have
                # been committed, so "no longer in the queue" means acknowledged then
                ok |= {
                    f["ReceiptHandle"]
                    for f in result["Failed"]
                    if f["ErrorCode"] == "ResourceNotFoundException"
                }
            with lock:
                for number, record_id, handle in entries:
                    if handle in ok:
                        out.acked.add(number)
                        out.ack_answered.setdefault(record_id, now)

    threads = [threading.Thread(target=produce)] + [
        threading.Thread(target=consume) for _ in range(CONSUMERS)
    ]
    for t in threads:
        t.start()
    wanted = records - len(poison)
    killed = kill_at is None
    deadline = time.monotonic() + 120 + records / 200
    while time.monotonic() < deadline:
        with lock:
            done = len(out.acked)
        if not killed and done >= wanted * kill_at:  # type: ignore[operator]
            server.kill()
            out.kills += 1
            server.start()
            killed = True
        if produced.is_set() and done >= wanted:
            break
        time.sleep(0.05)
    # Poison records turn into dead letters after MaxReceiveCount receives.
    dead_deadline = time.monotonic() + 30 + VISIBILITY_S * MAX_RECEIVE_COUNT
    dead_handles: dict[int, str] = {}
    while len(out.dead) < len(poison) and time.monotonic() < dead_deadline:
        got = admin.receive_dead_letter_queue_records(QueueARN=queue, WaitTimeSeconds=1)
        for r in got["QueueRecords"]:
            out.dead[int(r["Data"])] = r["ReceiveCount"]
            dead_handles[int(r["Data"])] = r["ReceiptHandle"]
    stop.set()
    for t in threads:
        t.join()
    # Restore the dead letters and acknowledge them through the normal receive path.
    items = list(dead_handles.items())
    for start in range(0, len(items), 10):
        part = items[start : start + 10]
        result = admin.restore_dead_letter_queue_records(
            QueueARN=queue, Entries=[{"ReceiptHandle": h} for _, h in part]
        )
        out.restored += len(result["Successful"])
    back: set[int] = set()
    restore_deadline = time.monotonic() + 30
    while len(back) < out.restored and time.monotonic() < restore_deadline:
        got = admin.receive_queue_records(QueueARN=queue, WaitTimeSeconds=1)["QueueRecords"]
        if got:
            admin.acknowledge_queue_records(
                QueueARN=queue, Entries=[{"ReceiptHandle": r["ReceiptHandle"]} for r in got]
            )
        back |= {int(r["Data"]) for r in got}
    out.acked |= back
    out.elapsed_s = time.monotonic() - started
    missing = set(range(records)) - out.acked
    if missing:
        out.problems.append(
            f"{len(missing)} records never acknowledged, e.g. {sorted(missing)[:5]}"
        )
    if out.late:
        out.problems.append(f"{len(out.late)} records received after their acknowledgement")
    if set(out.dead) != poison:
        out.problems.append(f"dead letters {len(out.dead)} != poison records {len(poison)}")
    if any(count != MAX_RECEIVE_COUNT for count in out.dead.values()):
        out.problems.append(f"dead letters' receive counts: {sorted(set(out.dead.values()))}")
    if back != poison:
        out.problems.append(f"{len(poison - back)} restored records did not come back")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share acked before kill -9")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "data") as server:
        out = run(server, args.records, args.kill_at)
    print(
        f"records {out.records}, {out.elapsed_s:.1f} s, {out.kills} kill -9, receives"
        f" {out.receives}, deliveries {out.deliveries}, redeliveries {out.redeliveries},"
        f" acknowledged {len(out.acked)}, dead letters {len(out.dead)} (restored"
        f" {out.restored}), received after acknowledgement {len(out.late)}"
    )
    print("OK" if not out.problems else "PROBLEMS: " + "; ".join(out.problems))


if __name__ == "__main__":
    main()
