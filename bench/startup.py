"""Start-up time of a fresh in-memory server, to its first answered Kinesis request.

Three ways, each measured --runs times (median, min, max):

  testing.server (thread)   ``shardflow.testing.server()`` in a fresh interpreter, imports included
  testing.server, warm      a second server in the same process (what a suite pays per extra one)
  testing.server (process)  ``shardflow.testing.server(isolation="process")`` in a fresh interpreter
  shardflow serve           ``shardflow serve --in-memory`` started by subprocess.Popen

It also reports the CPU time spent until then, which a loaded machine disturbs less than the
wall-clock figures. "First answered request" is a ListStreams call over raw HTTP answered 200,
sent in a loop from the moment of the start (every 2 ms), so a server is never timed by a
client's own set-up.

    .venv/bin/python bench/startup.py            # 10 runs each
    .venv/bin/python bench/startup.py --runs 3
    .venv/bin/python bench/startup.py --quick    # one run each: a smoke test
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request,"
    " SignedHeaders=host, Signature=0"
)
HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "Kinesis_20131202.ListStreams",
    "Authorization": AUTH,
    "X-Amz-Date": "20260101T000000Z",
}
POLL_S = 0.002
TIMEOUT_S = 30.0


def answered(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("POST", "/", body=b"{}", headers=HEADERS)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def wait_answered(port: int, started: float) -> float:
    while not answered(port):
        if time.perf_counter() - started > TIMEOUT_S:
            raise RuntimeError(f"no answer on port {port} within {TIMEOUT_S}s")
        time.sleep(POLL_S)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Run in a fresh interpreter: times the import too, then a second (warm) server.
_CHILD = """
import json, sys, time
started = time.perf_counter()
import shardflow.testing
sys.path.insert(0, sys.argv[2])
from startup import wait_answered
isolation = sys.argv[1]
with shardflow.testing.server(isolation=isolation) as s:
    cold = wait_answered(s.port, started)
    cpu = time.process_time()  # this process's CPU so far, every thread (the interpreter's too)
started = time.perf_counter()
with shardflow.testing.server(isolation=isolation) as s:
    warm = wait_answered(s.port, started)
print(json.dumps({"cold": cold, "warm": warm, "cpu": cpu}))
"""


def testing_server(isolation: str) -> dict[str, float]:
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, isolation, here], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def shardflow_serve() -> tuple[float, float]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shardflow", "serve", "--in-memory", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        elapsed = wait_answered(port, started)
        return elapsed, _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a running process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{name:<34} median {statistics.median(ms):6.0f} ms   min {min(ms):5.0f}"
        f"   max {max(ms):5.0f}   (n={len(ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one run each (a smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
    thread = [testing_server("thread") for _ in range(args.runs)]
    process = [testing_server("process") for _ in range(args.runs)]
    serve = [shardflow_serve() for _ in range(args.runs)]
    print(summary("testing.server() thread, cold", [r["cold"] for r in thread]))
    print(summary("testing.server() thread, warm", [r["warm"] for r in thread]))
    print(summary("testing.server() process, cold", [r["cold"] for r in process]))
    print(summary("testing.server() process, warm", [r["warm"] for r in process]))
    print(summary("shardflow serve --in-memory", [r[0] for r in serve]))
    print("CPU time to the first answer (load-independent; the interpreter's start included):")
    print(summary("testing.server() thread, cold", [r["cpu"] for r in thread]))
    print(summary("shardflow serve --in-memory", [r[1] for r in serve]))


if __name__ == "__main__":
    main()
