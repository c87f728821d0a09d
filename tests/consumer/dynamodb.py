"""A real DynamoDB-compatible server for tests: moto's server on a loopback ephemeral port.

    from tests.consumer.dynamodb import dynamodb_server  # noqa: F401  (the fixture)

    def test_x(dynamodb_server: DynamoDBServer) -> None:
        client = dynamodb_server.client()

The fixture is session-wide; tests keep apart by table name (``unique_table``). Child processes
find it through ``dynamodb_server.env()`` (the standard ``AWS_ENDPOINT_URL_DYNAMODB``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import free_port

START_TIMEOUT_S = 60.0  # moto imports every service model it knows; slow on a loaded machine
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class DynamoDBServer:
    """moto's server (tests/consumer/moto_serial.py) as a subprocess; ``extra_env`` e.g. turns on
    IAM checks."""

    def __init__(self, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"moto-{self.port}.log"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        env = {**os.environ, **self.extra_env}
        # moto's server with one request applied at a time: conditional writes atomic, as on AWS
        serial = str(Path(__file__).with_name("moto_serial.py"))
        cmd = [sys.executable, serial, "-H", "127.0.0.1", "-p", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited early: {self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto did not start in {START_TIMEOUT_S}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> DynamoDBServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment for a child process: the standard AWS settings pointing here."""
        return {
            **os.environ,
            **CREDENTIALS,
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self, **credentials: str) -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=credentials.get("key", CREDENTIALS["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=credentials.get("secret", CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
        )


def unique_table() -> str:
    return f"leases-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def dynamodb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBServer]:
    server = DynamoDBServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()
