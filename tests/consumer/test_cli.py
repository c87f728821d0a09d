"""`shardflow verify` and `shardflow tail` over HTTP."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from click.testing import CliRunner

from shardflow.cli.main import main
from tests.conftest import REGION
from tests.consumer.support import create_stream, fill


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _taxi(kinesis, stream: str, taxi: str, counters: list[int]) -> None:  # type: ignore[no-untyped-def]
    for n in counters:
        event = {"taxiId": taxi, "taxiSeq": n, "fare": 12.5}
        kinesis.put_record(StreamName=stream, PartitionKey=taxi, Data=json.dumps(event).encode())


def test_verify_passes_an_intact_stream(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 2)
    fill(kinesis, stream_name, keys=6, per_key=20, aggregate_every=4)
    code, out = _run("verify", stream_name, "--endpoint-url", endpoint, "--region", REGION)
    assert code == 0, out
    assert "120 records" in out and "6 keys (key: key, counter: seq)" in out
    assert "OK: every key in order, nothing missing" in out
    assert all(len(line) <= 100 for line in out.splitlines())


def test_verify_catches_a_planted_order_violation_and_gap(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 2)
    _taxi(kinesis, stream_name, "taxi-1", [1, 2, 3, 4, 5])
    _taxi(kinesis, stream_name, "taxi-2", [1, 2, 4, 3, 5])  # 3 arrives after 4
    _taxi(kinesis, stream_name, "taxi-3", [1, 2, 6, 7])  # 3..5 never arrive
    _taxi(kinesis, stream_name, "taxi-4", [1, 2, 2, 3])  # a resend: fine
    code, out = _run("verify", stream_name, "--endpoint-url", endpoint, "--region", REGION)
    assert code == 1, out
    assert "counter: taxiSeq" in out
    assert "order violations 1" in out and "key taxi-2: counter 3 after 4" in out
    assert "missing (gaps)   3" in out and "key taxi-3: counter 3..5 missing" in out
    assert "duplicates       1" in out and out.rstrip().endswith("BROKEN")
    code, out = _run(
        "verify", stream_name, "--json", "--endpoint-url", endpoint, "--region", REGION
    )
    report = json.loads(out)
    assert code == 1 and report["order_violations"] == 1 and report["missing"] == 3


def test_verify_names_the_counter_field(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 1)
    for n in (1, 3, 2):
        data = json.dumps({"car": "x", "n2": n}).encode()
        kinesis.put_record(StreamName=stream_name, PartitionKey="p", Data=data)
    args = ("--endpoint-url", endpoint, "--region", REGION)
    code, out = _run("verify", stream_name, "--key-field", "car", "--counter-field", "n2", *args)
    assert code == 1 and "key x: counter 2 after 3" in out


def test_client_errors_are_one_line(endpoint) -> None:  # type: ignore[no-untyped-def]
    code, out = _run("verify", "no-such-stream", "--endpoint-url", endpoint, "--region", REGION)
    assert code == 3 and out.count("\n") == 1 and "not found" in out
    assert "Traceback" not in out
    code, out = _run("tail", "s", "--endpoint-url", "http://127.0.0.1:9", "--region", REGION)
    assert code == 3 and out.startswith("Error: cannot reach http://127.0.0.1:9")


def test_tail_prints_records(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 2)
    _taxi(kinesis, stream_name, "taxi-1", [1, 2, 3])
    kinesis.put_record(StreamName=stream_name, PartitionKey="bin", Data=b"\xff\x00")
    args = ("--endpoint-url", endpoint, "--region", REGION, "--from", "trim-horizon")
    code, out = _run("tail", stream_name, "--max-records", "4", *args)
    assert code == 0, out
    events = [json.loads(line) for line in out.splitlines()]
    taxis = [e["data"]["taxiSeq"] for e in events if "data" in e]
    assert taxis == [1, 2, 3]
    assert [e["dataBase64"] for e in events if "dataBase64" in e] == ["/wA="]
    code, out = _run(
        "tail",
        stream_name,
        "--max-records",
        "3",
        "--format",
        "raw",
        *args,
        "--shard",
        events[0]["shard"],
    )
    assert code == 0 and out.splitlines()[0] == '{"taxiId": "taxi-1", "taxiSeq": 1, "fare": 12.5}'
    code, out = _run(
        "tail",
        stream_name,
        "--max-records",
        "1",
        "--format",
        "line",
        *args,
        "--shard",
        events[0]["shard"],
    )
    assert code == 0 and "taxi-1" in out and out.count("\n") == 1


def test_tail_rejects_a_bad_start() -> None:
    code, out = _run("tail", "s", "--from", "yesterday-ish", "--region", REGION)
    assert code == 2 and "trim-horizon, latest, an ISO 8601 time" in out


def test_tail_follows_new_records_until_ctrl_c(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 1)
    cmd = [sys.executable, "-m", "shardflow", "tail", stream_name, "--format", "line"]
    cmd += ["--endpoint-url", endpoint, "--region", REGION]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        # --from latest: only what arrives after the start; keep writing until a line shows.
        line = ""
        for n in range(1, 200):
            _taxi(kinesis, stream_name, "taxi-9", [n])
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                line = proc.stdout.readline()
                break
        assert "taxi-9" in line
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "records" in err and "Traceback" not in err


def test_tail_from_a_timestamp(kinesis, endpoint, stream_name) -> None:  # type: ignore[no-untyped-def]
    create_stream(kinesis, stream_name, 1)
    _taxi(kinesis, stream_name, "taxi-1", [1, 2])
    time.sleep(0.05)
    since = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    _taxi(kinesis, stream_name, "taxi-1", [3, 4])
    args = ("--endpoint-url", endpoint, "--region", REGION, "--format", "raw")
    code, out = _run("tail", stream_name, "--from", since, "--max-records", "2", *args)
    assert code == 0, out
    assert [json.loads(line)["taxiSeq"] for line in out.splitlines()] == [3, 4]
