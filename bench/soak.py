#!/usr/bin/env python3
"""Soak: normal Kinesis load with abusive clients mixed in, for a long time (issue 14).

    .venv/bin/python bench/soak.py                 # 30 minutes, a row every 30 s
    .venv/bin/python bench/soak.py --quick         # 8 s, a row every 2 s: a smoke test
    .venv/bin/python bench/soak.py --minutes 120 --interval 60

A fresh `shardflow serve --no-limits` gets, all the time:
- normal load: PutRecord, PutRecords (50 x 1 KB) and GetRecords callers (boto3, keep-alive),
  whose latencies give each row's p50/p99 and whose failures are counted;
- abusers, each in a loop: connections that never send a byte, request heads sent a line at a
  time, bodies that stop halfway, HTTP/2 header lists over the limit in CONTINUATION frames,
  SubscribeToShard subscribers that never read, and garbage bodies (random bytes).

Each row: seconds since start, server RSS (MiB), open descriptors, normal calls in
the interval, p50 and p99 (ms), failed normal calls, HTTP 5xx seen by anyone. A healthy run has
flat RSS and descriptors, a stable p99 and no 5xx. JSON goes to bench/results/soak-<time>.json.
Off CI: it is long and loads both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)
STREAM = "soak"


@dataclass
class Row:
    t_s: float
    rss_mib: float
    fds: int
    calls: int
    p50_ms: float
    p99_ms: float
    failed: int
    server_5xx: int


@dataclass
class Shared:
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    server_5xx: int = 0
    abuse_rounds: dict[str, int] = field(default_factory=dict)

    def took(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def count(self, name: str) -> None:
        with self.lock:
            self.abuse_rounds[name] = self.abuse_rounds.get(name, 0) + 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _start(port: int, data_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "shardflow", "serve", "--host", HOST, "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--no-limits", "--idle-timeout-s", "10"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"shardflow did not start: {log_path.read_text()[-2000:]}")


def _client(port: int) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=f"http://{HOST}:{port}",
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=BotoConfig(retries={"total_max_attempts": 1}, read_timeout=30),
    )


def _timed(shared: Shared, call: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    try:
        out = call(**kwargs)
    except Exception as exc:
        with shared.lock:
            shared.failed += 1
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status is not None and status >= 500:
                shared.server_5xx += 1
        return None
    shared.took(time.perf_counter() - started)
    return out


# -- normal load -------------------------------------------------------------------------------


def writer(shared: Shared, port: int, batch: bool) -> None:
    client = _client(port)
    n = 0
    while not shared.stop.is_set():
        n += 1
        if batch:
            records = [{"Data": os.urandom(1000), "PartitionKey": f"k{n}-{i}"} for i in range(50)]
            _timed(shared, client.put_records, StreamName=STREAM, Records=records)
        else:
            _timed(
                shared, client.put_record, StreamName=STREAM, Data=b"x" * 500, PartitionKey=str(n)
            )


def reader(shared: Shared, port: int, shard: str) -> None:
    client = _client(port)
    out = _timed(
        shared, client.get_shard_iterator, StreamName=STREAM, ShardId=shard,
        ShardIteratorType="LATEST",
    )  # fmt: skip
    iterator = out["ShardIterator"] if out else None
    while not shared.stop.is_set():
        if iterator is None:
            time.sleep(1)
            out = _timed(
                shared, client.get_shard_iterator, StreamName=STREAM, ShardId=shard,
                ShardIteratorType="LATEST",
            )  # fmt: skip
            iterator = out["ShardIterator"] if out else None
            continue
        page = _timed(shared, client.get_records, ShardIterator=iterator, Limit=1000)
        iterator = page.get("NextShardIterator") if page else None
        time.sleep(0.2)


# -- abusers -----------------------------------------------------------------------------------


def _sock(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=30)


def abuse_idle(shared: Shared, port: int) -> None:
    """50 connections that never send a byte, held until the server closes them."""
    while not shared.stop.is_set():
        socks = [_sock(port) for _ in range(50)]
        shared.stop.wait(15)
        for s in socks:
            s.close()
        shared.count("idle")


def abuse_slow_head(shared: Shared, port: int) -> None:
    while not shared.stop.is_set():
        with _sock(port) as s:
            try:
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
                for _ in range(30):
                    if shared.stop.wait(2):
                        break
                    s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass  # cut off: what should happen
        shared.count("slow-head")


def abuse_slow_body(shared: Shared, port: int) -> None:
    while not shared.stop.is_set():
        with _sock(port) as s:
            try:
                s.sendall(
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                    b"X-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Length: 4000000\r\n\r\n"
                    + b"{"
                    * 100_000
                )
                reply = s.recv(100)
                if reply.startswith(b"HTTP/1.1 5"):
                    with shared.lock:
                        shared.server_5xx += 1
            except OSError:
                pass
        shared.count("slow-body")


def abuse_header_flood(shared: Shared, port: int) -> None:
    """HTTP/2 header lists of 1 MiB in CONTINUATION frames, 10 streams a connection."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    value = b"a" * (1 << 20)
    literal = b"\x00\x05x-big" + b"\x7f" + _varint(len(value) - 127) + value
    head = b"\x83\x86\x84\x41\x01x"  # :method POST, :scheme http, :path /, :authority x
    block = head + literal
    while not shared.stop.is_set():
        with _sock(port) as s:
            try:
                s.sendall(preface)
                for stream_id in range(1, 21, 2):
                    chunks = [block[i : i + 16384] for i in range(0, len(block), 16384)]
                    for i, chunk in enumerate(chunks):
                        kind = 0x1 if i == 0 else 0x9
                        flags = 0x4 if i == len(chunks) - 1 else 0
                        s.sendall(_frame(kind, flags, stream_id, chunk))
            except OSError:
                pass
        shared.count("header-flood")
        shared.stop.wait(1)


def _varint(n: int) -> bytes:
    out = []
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes([*out, n])


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


def abuse_stalled_subscribers(shared: Shared, port: int, consumers: list[str]) -> None:
    while not shared.stop.is_set():
        socks = []
        for arn in consumers:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((HOST, port))
            body = json.dumps(
                {"ConsumerARN": arn, "ShardId": "shardId-000000000000",
                 "StartingPosition": {"Type": "TRIM_HORIZON"}}
            ).encode()  # fmt: skip
            s.sendall(_post("SubscribeToShard", body))
            socks.append(s)
        shared.stop.wait(40)
        for s in socks:
            s.close()
        shared.count("stalled-subscribers")
        shared.stop.wait(6)  # a consumer may subscribe again 5 s after its last subscription


def abuse_garbage(shared: Shared, port: int) -> None:
    rng = random.Random(14)
    ops = ["PutRecord", "PutRecords", "ListShards", "GetShardIterator", "CreateStream"]
    while not shared.stop.is_set():
        with _sock(port) as s:
            try:
                body = rng.randbytes(rng.randint(0, 2000))
                s.sendall(_post(rng.choice(ops), body, rng.choice(["json-1.1", "cbor-1.1"])))
                reply = s.recv(100)
                if reply.startswith(b"HTTP/1.1 5"):
                    with shared.lock:
                        shared.server_5xx += 1
            except OSError:
                pass
        shared.count("garbage")
        shared.stop.wait(0.05)


def _post(operation: str, body: bytes, kind: str = "json-1.1") -> bytes:
    content_type = (
        "application/x-amz-json-1.1" if kind == "json-1.1" else "application/x-amz-cbor-1.1"
    )
    return (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"X-Amz-Target: Kinesis_20131202.{operation}\r\nX-Amz-Date: 20260101T000000Z\r\n"
        f"Authorization: {AUTH}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# -- the run -----------------------------------------------------------------------------------


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _setup(port: int) -> list[str]:
    client = _client(port)
    client.create_stream(StreamName=STREAM, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=STREAM, WaiterConfig={"Delay": 0.2})
    arn = client.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    consumers = [
        client.register_stream_consumer(StreamARN=arn, ConsumerName=f"stalled-{i}")["Consumer"][
            "ConsumerARN"
        ]
        for i in range(10)
    ]
    time.sleep(1)
    return consumers


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--interval", type=float, default=30.0, help="seconds per row")
    p.add_argument("--quick", action="store_true", help="8 s, a row every 2 s (a smoke test)")
    p.add_argument("--output", type=Path, help="JSON path (default bench/results/soak-<time>.json)")
    args = p.parse_args()
    if args.quick:
        args.minutes, args.interval = 8 / 60, 2.0
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="shardflow-soak-"))
    proc = _start(port, work / "data", work / "server.log")
    shared = Shared()
    consumers = _setup(port)
    threads = [
        threading.Thread(target=writer, args=(shared, port, False)),
        threading.Thread(target=writer, args=(shared, port, True)),
        threading.Thread(target=reader, args=(shared, port, "shardId-000000000000")),
        threading.Thread(target=reader, args=(shared, port, "shardId-000000000001")),
        threading.Thread(target=abuse_idle, args=(shared, port)),
        threading.Thread(target=abuse_slow_head, args=(shared, port)),
        threading.Thread(target=abuse_slow_body, args=(shared, port)),
        threading.Thread(target=abuse_header_flood, args=(shared, port)),
        threading.Thread(target=abuse_stalled_subscribers, args=(shared, port, consumers)),
        threading.Thread(target=abuse_garbage, args=(shared, port)),
    ]
    for t in threads:
        t.daemon = True
        t.start()
    rows: list[Row] = []
    started = time.monotonic()
    print(f"{'t s':>6} {'RSS MiB':>8} {'fds':>5} {'calls':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'failed':>6} {'5xx':>4}")  # fmt: skip
    try:
        while time.monotonic() - started < args.minutes * 60:
            time.sleep(args.interval)
            with shared.lock:
                lat, shared.latencies = shared.latencies, []
                failed, shared.failed = shared.failed, 0
                server_5xx = shared.server_5xx
            q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
            row = Row(
                round(time.monotonic() - started, 1),
                round(_rss_mib(proc.pid), 1),
                len(os.listdir(f"/proc/{proc.pid}/fd")),
                len(lat),
                round(q[49] * 1000, 2),
                round(q[98] * 1000, 2),
                failed,
                server_5xx,
            )
            rows.append(row)
            print(f"{row.t_s:>6.0f} {row.rss_mib:>8.1f} {row.fds:>5} {row.calls:>7} "
                  f"{row.p50_ms:>7.2f} {row.p99_ms:>7.2f} {row.failed:>6} {row.server_5xx:>4}",
                  flush=True)  # fmt: skip
    finally:
        shared.stop.set()
        proc.terminate()
        proc.wait(30)
    print("abuse rounds:", dict(sorted(shared.abuse_rounds.items())))
    out = args.output or ROOT / "bench" / "results" / f"soak-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rows": [asdict(r) for r in rows],
                "abuse_rounds": shared.abuse_rounds,
                "minutes": args.minutes,
                "server_log": str(work / "server.log"),
            },
            indent=1,
        )
    )
    print(f"JSON: {out}")
    if shared.server_5xx:  # an answer of 5xx is a defect whatever the abuse (no fake 200s here)
        print(f"FAIL: the server answered 5xx {shared.server_5xx} times", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
