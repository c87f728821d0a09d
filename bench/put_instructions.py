"""Instructions per sequential PutRecord call, counted by valgrind's callgrind.

Wall-clock CPU figures on a shared 2-core machine move with the other load; instruction counts do
not. Each target runs under ``valgrind --tool=callgrind`` (all threads, user space only: system
calls and the kernel's side of a wake-up are not counted, so read this beside the CPU seconds of
server_bench), gets ``--warmup`` PutRecord calls (1 KiB, one keep-alive connection, one call at a
time, so the server is idle between calls as in server_bench's latency phase), then its counters
are zeroed (``callgrind_control -z``), ``--calls`` more calls are made and the counters dumped.

    .venv/bin/python bench/put_instructions.py                        # shardflow, kinesalite, ...
    .venv/bin/python bench/put_instructions.py --targets shardflow,floor --quick

Targets: ``shardflow`` (``--durability process``), ``kinesalite`` (in memory, with the peers'
loopback wrapper), ``ferrokinesis`` (in memory; built by bench/peers/ferrokinesis.sh), ``floor``
(rawhttp.py's null server answering a fixed body). A target that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

import peerdirs
import rawhttp
import targets

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
ALL = ("floor", "shardflow", "kinesalite", "ferrokinesis")
START_TIMEOUT_S = 180.0  # python and node start slowly under valgrind


def command(name: str, port: int, data_dir: Path) -> list[str] | None:
    """How to run ``name`` in the foreground, or None if it is not installed here."""
    if name == "shardflow":
        return [
            *(sys.executable, "-m", "shardflow", "serve", "--host", targets.HOST),
            *("--port", str(port), "--data-dir", str(data_dir)),
            *("--durability", "process", "--no-limits"),
        ]
    if name == "floor":
        return [sys.executable, str(BENCH / "rawhttp.py"), "null-server", str(port), "0"]
    if name == "kinesalite":
        wrapper = peerdirs.scripts() / "kinesalite_loopback.js"
        if not wrapper.exists() or peerdirs.missing("kinesalite") or not shutil.which("node"):
            return None
        return [
            *("node", str(wrapper), "--host", targets.HOST, "--port", str(port)),
            *("--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0"),
        ]
    if name == "ferrokinesis":
        binary = subprocess.run(
            [str(targets.FERRO_SCRIPT), "path"], capture_output=True, text=True
        ).stdout.strip()
        if not binary or not Path(binary).exists():
            return None
        return [binary, "--port", str(port), "--create-stream-ms", "0", "--log-level", "warn"]
    raise ValueError(name)


async def wait_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection(targets.HOST, port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.5)
    raise RuntimeError(f"nothing listens on {port} after {START_TIMEOUT_S:.0f} s")


async def drive(port: int, floor: bool, calls: int) -> None:
    """``calls`` sequential PutRecord calls on one connection (the stream made first)."""
    conn = rawhttp.HttpConnection(targets.HOST, port)
    stream = "instructions"
    if not floor:
        await conn.call("CreateStream", {"StreamName": stream, "ShardCount": 4})
        for _ in range(600):
            _, body = await conn.call("DescribeStreamSummary", {"StreamName": stream})
            if body["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":  # type: ignore[index]
                break
            await asyncio.sleep(0.1)
    data = base64.b64encode(os.urandom(1024)).decode()
    for i in range(calls):
        payload = {"StreamName": stream, "Data": data, "PartitionKey": f"pk-{i}"}
        raw = rawhttp.encode_request(f"{targets.HOST}:{port}", "PutRecord", orjson.dumps(payload))
        response = await conn.request(raw)
        if response.status != 200:
            raise RuntimeError(f"PutRecord answered {response.status}: {response.body[:200]!r}")
    conn.close()


def totals(out_dir: Path) -> int:
    """Instructions in the dump asked for after the zeroing (``callgrind.out.1``; the file
    without a suffix is written at exit and holds the shut-down)."""
    count = 0
    for path in out_dir.glob("callgrind.out.*"):
        match = re.search(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.M)
        if match:
            count += int(match.group(1))
    return count


class Counter:
    """A server running under callgrind: zero its counters, then count what ran since."""

    def __init__(self, proc: subprocess.Popen[bytes], work: Path) -> None:
        self.proc = proc
        self.work = work

    def zero(self) -> None:
        subprocess.run(
            ["callgrind_control", "-z", str(self.proc.pid)], capture_output=True, check=True
        )

    def count(self) -> int:
        subprocess.run(
            ["callgrind_control", "-d", str(self.proc.pid)], capture_output=True, check=True
        )
        return totals(self.work)


@contextlib.contextmanager
def under_callgrind(cmd: list[str], env: dict[str, str], work: Path) -> Iterator[Counter]:
    """Run ``cmd`` under callgrind (all threads); stop it and remove ``work`` after."""
    valgrind = [
        *("valgrind", "--tool=callgrind", "--trace-children=no"),
        f"--callgrind-out-file={work}/callgrind.out",
    ]
    proc = subprocess.Popen(
        valgrind + cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "valgrind.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    try:
        yield Counter(proc, work)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def measure(name: str, warmup: int, calls: int) -> float | None:
    work = Path(tempfile.mkdtemp(prefix=f"callgrind-{name}-"))
    port = targets.free_port_pair()
    cmd = command(name, port, work / "data")
    if cmd is None:
        print(f"{name}: not installed here, skipped", file=sys.stderr)
        shutil.rmtree(work)
        return None
    with under_callgrind(cmd, dict(os.environ, PYTHONPATH=str(SRC)), work) as counter:
        asyncio.run(wait_up(port, time.monotonic() + START_TIMEOUT_S))
        asyncio.run(drive(port, name == "floor", warmup))
        counter.zero()
        asyncio.run(drive(port, name == "floor", calls) if name == "floor" else _more(port, calls))
        return counter.count() / calls


async def _more(port: int, calls: int) -> None:
    """More PutRecord calls on the stream ``drive`` made (no CreateStream inside the count)."""
    conn = rawhttp.HttpConnection(targets.HOST, port)
    data = base64.b64encode(os.urandom(1024)).decode()
    for i in range(calls):
        payload = {"StreamName": "instructions", "Data": data, "PartitionKey": f"more-{i}"}
        raw = rawhttp.encode_request(f"{targets.HOST}:{port}", "PutRecord", orjson.dumps(payload))
        response = await conn.request(raw)
        if response.status != 200:
            raise RuntimeError(f"PutRecord answered {response.status}: {response.body[:200]!r}")
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(ALL))
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="a smoke test: few calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.calls = 20, 30
    title = f"instructions per sequential PutRecord call ({args.calls} calls after {args.warmup})"
    return report(
        args.targets.split(","), lambda name: measure(name, args.warmup, args.calls), title, 14
    )


def report(
    names: list[str], measure_one: Callable[[str], float | None], title: str, width: int
) -> int:
    """Measure each target under callgrind in turn and print one line each (exit status)."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        print("valgrind (callgrind) is not installed: apt-get install valgrind", file=sys.stderr)
        return 1
    results = {}
    for name in names:
        print(f"{name}: under callgrind ...", file=sys.stderr)
        results[name] = measure_one(name)
    print(title)
    for name, value in results.items():
        print(f"{name:<{width}} {'skipped' if value is None else f'{value:,.0f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
