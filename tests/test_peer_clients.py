"""Shardflow's clients against other Kinesis implementations: no Shardflow-only endpoint needed.

`shardflow produce taxi`, `tail` and `verify` (polling and enhanced fan-out) run against
kinesalite and kinesis-mock, installed and started with the peers' scripts (install.sh is
idempotent and reaches npm). A peer without an operation a command needs is skipped with the
reason (kinesalite has no stream consumers); a peer that is not installed is installed, never
skipped.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from shardflow.cli.main import main
from tests.conftest import REGION
from tests.support import free_port

# shared/ sits beside the project checkout (as in CI); SHARDFLOW_PEERS_SCRIPTS points elsewhere.
PEERS_SCRIPTS = Path(
    os.environ.get(
        "SHARDFLOW_PEERS_SCRIPTS", Path(__file__).resolve().parents[1].parent / "shared" / "peers"
    )
)
PEERS = ("kinesalite", "kinesis-local")  # kinesis-local: kinesis-mock from npm
RECORDS = 300
# What the consumer says when an endpoint lacks enhanced fan-out (consumer.fanout).
NO_FAN_OUT = ("has no enhanced fan-out", "has no SubscribeToShard")


@pytest.fixture(scope="module")
def installed() -> None:
    assert (PEERS_SCRIPTS / "install.sh").exists(), (
        f"no peer scripts in {PEERS_SCRIPTS}: set SHARDFLOW_PEERS_SCRIPTS"
    )
    subprocess.run(
        ["bash", str(PEERS_SCRIPTS / "install.sh")], check=True, capture_output=True, timeout=600
    )


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest, installed: None) -> Iterator[tuple[str, str]]:
    """(name, endpoint) of a running peer, stopped after the module."""
    name = request.param
    port = _free_pair() if name == "kinesis-local" else free_port()
    started = subprocess.run(
        ["bash", str(PEERS_SCRIPTS / "start.sh"), name, str(port)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert started.returncode == 0, started.stderr
    pid = started.stdout.strip()
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["bash", str(PEERS_SCRIPTS / "stop.sh"), pid], capture_output=True, timeout=30
        )


def _free_pair() -> int:
    """A free port whose next one is free too (kinesis-mock also opens TLS on PORT+1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def taxi_stream(peer: tuple[str, str]) -> str:
    """A 2-shard stream on the peer holding RECORDS taxi events written by the lab's producer."""
    _, endpoint = peer
    where = ("--endpoint-url", endpoint, "--region", REGION)
    code, out = _cli("create-stream", "taxi", "--shards", "2", *where)
    assert code == 0, out
    code, out = _cli("produce", "taxi", "--stream", "taxi", "--count", str(RECORDS), *where)
    assert code == 0, out
    assert f"{RECORDS:,} records" in out
    return "taxi"


MODES = {"polling": (), "fan-out": ("--fan-out", "peer-check")}


def _skip_without_fan_out(name: str, code: int, out: str) -> None:
    if code == 3 and any(reason in out for reason in NO_FAN_OUT):
        pytest.skip(f"{name} lacks enhanced fan-out: {out.strip()}")


@pytest.mark.parametrize("mode", MODES)
def test_verify(peer: tuple[str, str], taxi_stream: str, mode: str) -> None:
    name, endpoint = peer
    code, out = _cli(
        *("verify", taxi_stream, "--json", *MODES[mode]),
        *("--endpoint-url", endpoint, "--region", REGION),
    )
    _skip_without_fan_out(name, code, out)
    assert code == 0, out
    report = json.loads(out)
    assert report["records"] == RECORDS and report["duplicates"] == 0
    assert report["missing"] == 0 and report["order_violations"] == 0
    assert report["counter_field"] == "taxiSeq"


@pytest.mark.parametrize("mode", MODES)
def test_tail(peer: tuple[str, str], taxi_stream: str, mode: str) -> None:
    name, endpoint = peer
    code, out = _cli(
        *("tail", taxi_stream, "--from", "trim-horizon", "--max-records", str(RECORDS)),
        *("--endpoint-url", endpoint, "--region", REGION, *MODES[mode]),
    )
    _skip_without_fan_out(name, code, out)
    assert code == 0, out
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == RECORDS
    assert {line["shard"] for line in lines} == {"shardId-000000000000", "shardId-000000000001"}
