"""create-stream and produce taxi, in process against the real server; the direct writers."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from typing import Any

from click.testing import CliRunner

from shardflow.cli.main import main
from shardflow.producer import ProducerConfig
from shardflow.producer.direct import PutRecordsWriter, PutRecordWriter
from shardflow.workloads.runner import BUFFERED_SECONDS, _buffer_for_stream
from tests.producer.conftest import REGION, FaultServer, check_order, new_stream, read_user_records


def _run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_create_stream_is_idempotent(endpoint: str, stream_name: str) -> None:
    common = ("--endpoint-url", endpoint, "--region", REGION)
    first = _run("create-stream", stream_name, "--shards", "3", *common)
    assert first.exit_code == 0 and "created; ACTIVE" in first.output
    again = _run("create-stream", stream_name, "--shards", "3", *common)
    assert again.exit_code == 0 and "exists; ACTIVE" in again.output


def test_produce_taxi_each_api_writes_in_order(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    total = 0
    for api in ("put-record", "put-records", "producer"):
        out = _run(
            "produce", "taxi", "--stream", stream, "--api", api, "--count", "150",
            "--taxis", "10", "--seed", "1", "--endpoint-url", endpoint, "--region", REGION,
        )  # fmt: skip
        assert out.exit_code == 0, out.output
        assert f"{api}: 150 records" in out.output
        total += 150
    records = read_user_records(client, stream)
    assert len(records) == total
    per_key: dict[str, list[int]] = {}
    for r in records:
        ev = json.loads(r["data"])
        assert r["key"] == ev["taxiId"]
        per_key.setdefault(r["key"], []).append(ev["taxiSeq"])
    # three runs with the same seed, one after another: each key counts 1..m three times
    for key, counters in per_key.items():
        m = len(counters) // 3
        assert counters == list(range(1, m + 1)) * 3, key


def test_verbose_prints_the_labs_line(endpoint: str) -> None:
    _, stream = new_stream(endpoint, 1)
    out = _run(
        "produce", "taxi", "--stream", stream, "--api", "put-record", "--count", "3", "-v",
        "--endpoint-url", endpoint, "--region", REGION,
    )  # fmt: skip
    lines = [line for line in out.output.splitlines() if line.startswith("Total ingested:")]
    assert len(lines) == 3 and lines[2].startswith("Total ingested:3,ReqID:")
    assert lines[0].endswith(",HTTPStatusCode:200")


def test_missing_stream_is_one_line(endpoint: str) -> None:
    for api in ("put-record", "put-records", "producer"):
        out = CliRunner().invoke(
            main,
            ["produce", "taxi", "--stream", "nope-nope", "--api", api, "--count", "3",
             "--endpoint-url", endpoint, "--region", REGION],
        )  # fmt: skip
        assert out.exit_code == 1
        assert out.output.strip().startswith(
            "Error: stream nope-nope not found in region us-east-1"
        )
        assert "Traceback" not in out.output and len(out.output.strip().splitlines()) == 1


def test_put_records_writer_never_reorders_a_key(faults: FaultServer) -> None:
    faults.set_faults({"PutRecords": {"entry_throttle": 0.3, "entry_internal": 0.05}})
    client, stream = new_stream(faults.endpoint, 2)
    writer = PutRecordsWriter(client, stream, linger=10.0, backoff_max=0.02)
    rng = random.Random(5)
    counters: dict[str, int] = {}
    for _ in range(2000):
        k = f"taxi-{rng.randrange(30)}"
        counters[k] = counters.get(k, 0) + 1
        writer.add(json.dumps({"k": k, "n": counters[k]}).encode(), k)
    writer.flush()
    faults.clear_faults()
    assert writer.stats.retries > 0
    per_key = check_order(read_user_records(client, stream))
    for k, ns in per_key.items():
        assert ns == list(range(1, counters[k] + 1)), k


def test_put_record_writer_chains_sequence_numbers(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 1)
    writer = PutRecordWriter(client, stream)
    seqs = [int(writer.put(b"x", "same-key")["SequenceNumber"]) for _ in range(20)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20


def test_ctrl_c_flushes_and_prints_a_summary(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    cmd = [sys.executable, "-m", "shardflow", "produce", "taxi", "--stream", stream,
           "--api", "producer", "--rate", "2000", "--linger", "5",
           "--endpoint-url", endpoint, "--region", REGION]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a child of a non-interactive shell may inherit SIGINT ignored; Ctrl-C is the default
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "(interrupted)" in out and "Traceback" not in err
    written = int(out.split(":")[1].split("records")[0].replace(",", ""))
    # linger 5 s: everything was still buffered at Ctrl-C, and the flush wrote all of it
    assert written > 100 and len(read_user_records(client, stream)) == written


def test_produce_taxi_buffers_at_most_ten_seconds_of_the_streams_writes(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    config = ProducerConfig()
    capped = asyncio.run(_buffer_for_stream(client, stream, config))
    assert capped.max_buffered_bytes == 2 * config.shard_bytes_per_s * BUFFERED_SECONDS
    # a smaller limit of the caller's stays; a missing stream is left to start() to report
    roomy = ProducerConfig(max_buffered_bytes=1000)
    assert asyncio.run(_buffer_for_stream(client, stream, roomy)) == roomy
    assert asyncio.run(_buffer_for_stream(client, "no-such-stream", config)) == config
