"""Every kept benchmark's ``--quick`` run exits 0 and prints its figures (bench/README.md).

The runs are smoke tests, not measurements: they prove the benchmarks still work against today's
code. The ``slow`` ones (over ~10 s each) are deselected by default (pyproject's addopts):
``make test-bench`` runs them, and CI runs it after ``make test``. consumer_bench and
producer_bench share one server; the others measure a server of their own (its start-up, its
memory, metrics on against off, ...). server_bench runs shardflow only, and a peer from an empty
peers' directory, which it must skip with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, server_of_its_own

ROOT = Path(__file__).resolve().parents[1]
BENCH_TIMEOUT_S = 240  # a loaded 2-core machine stretches a 20 s run a lot

pytestmark = [
    pytest.mark.timeout(BENCH_TIMEOUT_S + 30),
    pytest.mark.skipif(
        bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")),
        reason="the benchmarks measure this code base's own servers",
    ),
]


def run_bench(script: str, *args: str) -> str:
    """Run ``bench/<script> --quick ARGS``; its stdout and stderr, after asserting exit 0."""
    env = dict(os.environ)
    env.pop("SHARDFLOW_TEST_ENDPOINT", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
        cwd=ROOT,
        env=env,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{output[-3000:]}"
    return output


def figures(pattern: str, output: str) -> None:
    assert re.search(pattern, output, re.MULTILINE), f"no match for {pattern!r} in:\n{output}"


@pytest.fixture(scope="module")
def bench_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server (--no-limits) for the benchmarks that take an endpoint."""
    yield from server_of_its_own(tmp_path_factory.mktemp("bench-server") / "data")


def test_consumer_bench(bench_server: ServerProcess, tmp_path: Path) -> None:
    out = run_bench(
        "consumer_bench.py",
        *("--endpoint-url", bench_server.endpoint, "--output", str(tmp_path / "c.json")),
    )
    figures(r"^agg\s+consumer\s+[\d,]+\s+[\d.]+", out)
    figures(r"^plain\s+bare\s+[\d,]+", out)


@pytest.mark.slow
def test_producer_bench(bench_server: ServerProcess, tmp_path: Path) -> None:
    out = run_bench(
        "producer_bench.py",
        *("--no-peers", "--endpoint-url", bench_server.endpoint),
        *("--output", str(tmp_path / "p.json")),
    )
    figures(r"^producer agg ordered\s+[\d,]+\s+[\d.]+", out)
    figures(r"^bare botocore PutRecord\s+[\d,]+.*\byes\b", out)
    figures(r"n/a .*no peers were run", out)


@pytest.mark.slow
def test_server_bench(tmp_path: Path) -> None:
    """shardflow measured; a peer that is not installed is skipped, saying why."""
    empty = tmp_path / "no-peers"
    empty.mkdir()
    out = run_bench(
        "server_bench.py",
        *("--targets", "kinesalite,shardflow", "--peers", str(empty), "--no-calibrate"),
        *("--output", str(tmp_path / "s.json")),
    )
    figures(r"^shardflow\s+[\d.]+\s+[\d.]+\s+[\d.k]+", out)
    figures(r"^kinesalite\s+SKIPPED: (kinesalite is not installed under|no peer scripts in)", out)


@pytest.mark.slow
def test_storage_growth(tmp_path: Path) -> None:
    out = run_bench("storage_growth.py", "--json", str(tmp_path / "g.json"))
    figures(r"server peak RSS \(VmHWM\) over the run: [\d.]+ MiB", out)


@pytest.mark.slow
def test_soak(tmp_path: Path) -> None:
    out = run_bench("soak.py", "--output", str(tmp_path / "soak.json"))
    figures(r"^\s+\d+\s+[\d.]+\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+\s+\d+\s+0$", out)  # a row, no 5xx
    figures(r"^abuse rounds: \{.*'garbage': \d+", out)


@pytest.mark.slow
def test_lease_bench() -> None:
    out = run_bench("lease_bench.py")
    figures(r"DynamoDB requests per shard per minute:\n\s+.*total [\d.]+", out)
    figures(r"takeover after kill -9: median [\d.]+ s", out)


def test_metrics_overhead() -> None:
    out = run_bench("metrics_overhead.py")
    figures(r"^metrics on\s+\d+\s+[\d.]+\s+[\d.]+$", out)
    figures(r"^IncomingRecords recorded: (\d+) of \1 accepted; failures: 0", out)


def test_metrics_scrape() -> None:
    out = run_bench("metrics_scrape.py")
    figures(r"^/metrics: \d+ ms median, [\d.]+ MB", out)


def test_startup() -> None:
    out = run_bench("startup.py")
    figures(r"^shardflow serve --in-memory\s+median\s+\d+ ms", out)


def test_queue_bench() -> None:
    out = run_bench("queue_bench.py")
    figures(r"^4\s+[\d,]+\s+\d+\s+[\d,]+$", out)


def test_taxi_end_to_end(tmp_path: Path) -> None:
    out = run_bench("taxi_end_to_end.py", "--output", str(tmp_path / "t.json"))
    figures(r"^events/s\s+[\d,]+$", out)
    figures(r"^generator alone us/event\s+[\d.]+ \(\d+% of the producer's CPU\)$", out)


def test_scale_bench(tmp_path: Path) -> None:
    out = run_bench("scale_bench.py", "--output", str(tmp_path / "s.json"))
    figures(r"^\s+50(\s+[\d.]+/[\d.]+){4}\s+[\d.]+\s+\d+$", out)  # the last checkpoint's row
    figures(r"^\s+100(\s+[\d.]+/[\d.]+){3}$", out)  # the 100-shard stream


def _needs_valgrind() -> None:
    if shutil.which("valgrind") is None:  # .ci/run installs it: there a missing one fails
        if os.environ.get("CI"):
            pytest.fail("callgrind needs valgrind (apt-get install valgrind)")
        pytest.skip("callgrind needs valgrind installed")


@pytest.mark.slow
def test_put_instructions() -> None:
    _needs_valgrind()
    out = run_bench("put_instructions.py", "--targets", "floor,shardflow")
    figures(r"^floor\s+[\d,]+$", out)
    figures(r"^shardflow\s+[\d,]+$", out)


def test_http1_fronts() -> None:
    out = run_bench("http1_fronts.py")
    figures(r"^loop\s+[\d.]+\s+[\d.]+\s+\d+$", out)
    figures(r"^granian\s+[\d.]+\s+[\d.]+\s+\d+$", out)


@pytest.mark.slow
def test_read_instructions() -> None:
    _needs_valgrind()
    out = run_bench("read_instructions.py", "--targets", "shardflow")
    figures(r"^shardflow\s+[\d,]+$", out)


def test_read_path() -> None:
    out = run_bench("read_path.py", "--tree", "json=src", "--protocol", "json")
    figures(r'^\{"tree": "json", "protocol": "json", "us_per_record_median": [\d.]+', out)
    out = run_bench("read_path.py", "--protocol", "cbor", "--drain")
    figures(r'^\{"tree": "this", "protocol": "cbor", "us_per_record_median": [\d.]+', out)
