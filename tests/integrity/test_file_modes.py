"""The data directory is 0700 and its database, log and key files 0600, whatever the umask; an
existing looser directory gets a warning (and is left as its owner set it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.integrity.damage import mode
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="needs a server of its own"
)


def _serve(data_dir: Path, *args: str) -> ServerProcess:
    old = os.umask(0o022)  # the usual umask: files 0644, directories 0755 unless we say so
    try:
        return ServerProcess(data_dir, *args).__enter__()
    finally:
        os.umask(old)


def test_new_data_directory_and_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = _serve(data_dir, "--tls")
    try:
        client = boto3.client(
            "kinesis",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="secret",
            verify=str(server.ca_file),
        )
        client.create_stream(StreamName="modes", ShardCount=1)
        client.put_record(StreamName="modes", Data=b"x", PartitionKey="k")
    finally:
        server.stop()
    assert mode(data_dir) == 0o700
    files = [
        "shardflow.sqlite3",
        "metrics.sqlite3",
        "acknowledged.log",
        "tls/key.pem",
        "tls/ca-key.pem",
    ]
    for name in files:
        assert mode(data_dir / name) == 0o600, name
    for journal in data_dir.glob("*.sqlite3-*"):
        assert mode(journal) == 0o600, journal.name


def test_existing_files_are_tightened_and_a_loose_directory_is_warned_about(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with ServerProcess(data_dir):
        pass
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "shardflow.sqlite3", 0o644)
    with ServerProcess(data_dir) as server:
        log = server.log()
    assert mode(data_dir / "shardflow.sqlite3") == 0o600
    assert mode(data_dir) == 0o755  # its owner's choice, but said out loud:
    assert f"the data directory {data_dir} is open to other users (mode 755)" in log
    assert f"chmod 700 {data_dir}" in log


def test_check_data_refuses_what_is_not_a_data_directory(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    cmd = [sys.executable, "-m", "shardflow", "check-data", "--data-dir", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is not a directory" in done.stderr
