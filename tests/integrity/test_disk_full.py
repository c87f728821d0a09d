"""A full disk, for real (a small tmpfs): writes get ServiceUnavailable saying the disk is full
and where, the log says so once, nothing acknowledged is lost, writes resume by themselves once
space is freed, and /metrics shows the free space."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.integrity.damage import (
    STREAM,
    assert_one_line_refusal,
    read_all,
    start_expecting_refusal,
)
from tests.support import ServerProcess

FS_BYTES = 8 * 1024 * 1024
BALLAST_BYTES = 4 * 1024 * 1024  # freed to make room again (and for the WAL's checkpoint)
RECORD = 32 * 1024

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="needs a server of its own"
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs mounted as the data directory, under the test's temporary directory (root
    only); the server's log stays outside it."""
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES},mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_refuses_writes_clearly_and_recovers(small_disk: Path) -> None:
    data_dir = small_disk
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * BALLAST_BYTES)
    acked: list[bytes] = []
    refusals: list[ClientError] = []
    server = ServerProcess(data_dir)
    server.start()
    try:
        client = make_client(server.endpoint)
        client.create_stream(StreamName=STREAM, ShardCount=1)
        i = 0
        while len(refusals) < 5 and i < 2000:
            data = b"%08d" % i + bytes([i % 251]) * (RECORD - 8)
            i += 1
            try:
                client.put_record(StreamName=STREAM, Data=data, PartitionKey="k")
                acked.append(data)
            except ClientError as exc:
                refusals.append(exc)
        assert len(refusals) == 5, "the disk never filled"
        metrics = urllib.request.urlopen(server.endpoint + "/metrics").read().decode()
        ballast.unlink()  # space returns: writes must resume without a restart
        deadline = time.monotonic() + 30
        while True:
            try:
                client.put_record(StreamName=STREAM, Data=b"after", PartitionKey="k")
                acked.append(b"after")
                break
            except ClientError:
                assert time.monotonic() < deadline, "writes did not resume"
                time.sleep(0.2)
        log = server.log()
    finally:
        server.stop()

    for exc in refusals:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        error = exc.response["Error"]
        assert error["Code"] == "ServiceUnavailable"
        assert "is full" in error["Message"] and str(data_dir) in error["Message"]
    assert log.count("disk full: the data directory") == 1, log
    assert "writes resumed" in log
    assert "Traceback" not in log, log
    free = [line for line in metrics.splitlines() if line.startswith("shardflow_data_dir_free")]
    assert free and float(free[0].split()[-1]) < RECORD * 4, free
    assert "shardflow_data_dir_full 1.0" in metrics

    with ServerProcess(data_dir) as server:  # nothing acknowledged was lost
        back = read_all(server.endpoint)
    assert not back.errors
    assert [d for records in back.served.values() for d in records] == acked


def test_start_on_a_full_disk_is_refused_in_one_line(small_disk: Path) -> None:
    with (small_disk / "ballast").open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass  # full
    refusal = start_expecting_refusal(small_disk)
    line = assert_one_line_refusal(refusal, "shardflow.sqlite3")
    assert "the disk holding it is full" in line and "free space on that disk" in line
