"""Queue benchmark: receive + acknowledge throughput of one Kinesis queue, and server CPU per
record.

    .venv/bin/python bench/queue_bench.py            # 100,000 records, ~2 min
    .venv/bin/python bench/queue_bench.py --quick    # smoke test

A server of its own (``--no-limits``, default durability ``process``: every answered
acknowledgement is committed) gets an ON_DEMAND stream filled with N records of ~200 bytes.
Then, per row, a new TRIM_HORIZON queue is drained by C consumer threads, each a boto3 loop of
ReceiveQueueRecords (Limit 10) and AcknowledgeQueueRecords of what it received, until every
record is acknowledged. Figures: records/s from the first receive to the last acknowledgement,
server CPU (user+system of its process tree, /proc) per record, and the calls made. The client
runs in this process on the same machine, so on 2 cores it competes with the server.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import procstats

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(endpoint: str) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=BotoConfig(retries={"total_max_attempts": 1}, max_pool_connections=16),
    )


def fill(kinesis: Any, stream: str, records: int) -> None:
    payload = b"x" * 180
    for start in range(0, records, 500):
        batch = [
            {"Data": b"%d:" % i + payload, "PartitionKey": str(i)}
            for i in range(start, min(start + 500, records))
        ]
        assert kinesis.put_records(StreamName=stream, Records=batch)["FailedRecordCount"] == 0


def drain(endpoint: str, queue: str, records: int, consumers: int) -> tuple[float, int]:
    """Seconds until ``records`` records are acknowledged by ``consumers`` threads; calls made."""
    acked = 0
    calls = 0
    lock = threading.Lock()
    done = threading.Event()

    def work() -> None:
        nonlocal acked, calls
        kinesis = client(endpoint)
        while not done.is_set():
            got = kinesis.receive_queue_records(QueueARN=queue, Limit=10, WaitTimeSeconds=1)
            entries = [{"ReceiptHandle": r["ReceiptHandle"]} for r in got["QueueRecords"]]
            ok = 0
            if entries:
                out = kinesis.acknowledge_queue_records(QueueARN=queue, Entries=entries)
                ok = len(out["Successful"])
            with lock:
                calls += 2 if entries else 1
                acked += ok
                if acked >= records:
                    done.set()

    threads = [threading.Thread(target=work) for _ in range(consumers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 records: a smoke test")
    args = parser.parse_args()
    records = 5_000 if args.quick else args.records
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "shardflow", "serve", "--port", str(port)),
                *("--no-limits", "--data-dir", str(Path(tmp) / "data")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(endpoint + "/healthz", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            kinesis = client(endpoint)
            kinesis.create_stream(StreamName="bench", StreamModeDetails={"StreamMode": "ON_DEMAND"})
            arn = kinesis.describe_stream_summary(StreamName="bench")["StreamDescriptionSummary"][
                "StreamARN"
            ]
            fill(kinesis, "bench", records)
            print(f"{records:,} records of ~190 bytes in an ON_DEMAND stream")
            print(f"{'consumers':<10} {'records/s':>10} {'server CPU us/rec':>18} {'calls':>8}")
            for consumers in (1, 4):
                queue = kinesis.create_queue(
                    QueueName=f"bench-{consumers}",
                    StreamConfigurationList=[
                        {"StreamARN": arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}
                    ],
                )["QueueDescription"]["QueueARN"]
                cpu_before = procstats.tree_cpu_seconds(server.pid)
                elapsed, calls = drain(endpoint, queue, records, consumers)
                cpu = procstats.tree_cpu_seconds(server.pid) - cpu_before
                print(
                    f"{consumers:<10} {records / elapsed:>10,.0f}"
                    f" {cpu / records * 1e6:>18.0f} {calls:>8,}"
                )
                kinesis.delete_queue(QueueARN=queue)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
