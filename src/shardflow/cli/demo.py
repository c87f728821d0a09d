"""``shardflow demo``: the lab end to end on this machine.

Starts a server (unless --endpoint-url names one), creates ``input-stream``, writes trip events
with ordered PutRecord calls and with PutRecords batches, reads every shard back and reports
counts, rates and whether every key's records arrived in order.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

import click

STREAM = "input-stream"
KEYS = 20  # taxis: records of one taxi share a partition key and must stay in order


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "shardflow", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise click.ClickException(f"the server exited at start:\n{err}")
        try:
            with urllib.request.urlopen(endpoint + "/healthz", timeout=1):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise click.ClickException("the server did not answer within 30 s")


def _event(rng: random.Random, taxi: int, counter: int) -> dict[str, Any]:
    duration = rng.randint(300, 3600)
    return {
        "taxiId": f"taxi-{taxi:03d}",
        "seq": counter,
        "vendorId": rng.randint(1, 2),
        "passengerCount": rng.randint(1, 6),
        "tripDuration": duration,
    }


@click.command()
@click.option("--endpoint-url", default=None, help="Use this server instead of starting one.")
@click.option("--records", default=2000, show_default=True, help="Records per API mode.")
@click.option("--shards", default=2, show_default=True, help="Shards of input-stream.")
def demo(endpoint_url: str | None, records: int, shards: int) -> None:
    """Run the ingestion lab here: server, input-stream, writes, read-back, report."""
    import boto3
    from botocore.config import Config as BotoConfig

    proc = None
    tmp = None
    if endpoint_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="shardflow-demo-")
        proc, endpoint_url = _start_server(Path(tmp.name))
        click.echo(f"server    started on {endpoint_url} (data in {tmp.name})")
    try:
        client = boto3.client(
            "kinesis",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
            config=BotoConfig(retries={"mode": "standard"}, tcp_keepalive=True),
        )
        _run(client, records, shards)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        if tmp is not None:
            tmp.cleanup()


def _run(client: Any, records: int, shards: int) -> None:
    try:
        client.create_stream(StreamName=STREAM, ShardCount=shards)
        click.echo(f"stream    {STREAM} created with {shards} shards")
    except client.exceptions.ResourceInUseException:
        click.echo(f"stream    {STREAM} exists; writing to it")
    client.get_waiter("stream_exists").wait(
        StreamName=STREAM, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    rng = random.Random(7)
    counters: dict[int, int] = defaultdict(int)

    def next_event() -> tuple[str, bytes]:
        taxi = rng.randrange(KEYS)
        counters[taxi] += 1
        event = _event(rng, taxi, counters[taxi])
        return event["taxiId"], json.dumps(event).encode()

    # PutRecord: one record per call, each key chained by SequenceNumberForOrdering.
    last_seq: dict[str, str] = {}
    latencies = []
    started = time.perf_counter()
    for _ in range(records):
        key, data = next_event()
        kwargs: dict[str, Any] = {"StreamName": STREAM, "Data": data, "PartitionKey": key}
        if key in last_seq:
            kwargs["SequenceNumberForOrdering"] = last_seq[key]
        t0 = time.perf_counter()
        last_seq[key] = client.put_record(**kwargs)["SequenceNumber"]
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    click.echo(
        f"PutRecord  {records} records in {elapsed:.2f}s: {records / elapsed:,.0f} records/s,"
        f" p50 {latencies[len(latencies) // 2] * 1e3:.2f} ms,"
        f" p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms"
    )
    # PutRecords: batches of up to 500.
    started = time.perf_counter()
    written = 0
    while written < records:
        batch = [next_event() for _ in range(min(500, records - written))]
        out = client.put_records(
            StreamName=STREAM, Records=[{"Data": d, "PartitionKey": k} for k, d in batch]
        )
        if out["FailedRecordCount"]:
            raise click.ClickException(f"{out['FailedRecordCount']} records failed")
        written += len(batch)
    elapsed = time.perf_counter() - started
    click.echo(
        f"PutRecords {written} records in {elapsed:.2f}s: {written / elapsed:,.0f} records/s"
    )
    _read_back(client, dict(counters))


def _read_back(client: Any, expected: dict[int, int]) -> None:
    started = time.perf_counter()
    seen: dict[str, int] = {}
    out_of_order = 0
    per_shard: dict[str, int] = {}
    total = 0
    for shard in client.list_shards(StreamName=STREAM)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        count = 0
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            for record in page["Records"]:
                event = json.loads(record["Data"])
                key = event["taxiId"]
                if event["seq"] <= seen.get(key, 0):
                    out_of_order += 1
                seen[key] = event["seq"]
                count += 1
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
        per_shard[shard["ShardId"]] = count
        total += count
    elapsed = time.perf_counter() - started
    want = sum(expected.values())
    click.echo(
        f"read back  {total} records in {elapsed:.2f}s ({total / elapsed:,.0f} records/s): "
        + ", ".join(f"{k} {v}" for k, v in per_shard.items())
    )
    ok = out_of_order == 0 and total >= want
    click.echo(
        f"order      {len(seen)} taxis, {out_of_order} out-of-order records, "
        f"{total}/{want} records: {'OK' if ok else 'BROKEN'}"
    )
    if not ok:
        raise SystemExit(1)
