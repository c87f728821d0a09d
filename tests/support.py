"""Start and stop `shardflow serve` as a real subprocess for tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 30.0  # a cold start imports botocore's model; CI machines are slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A `shardflow serve` subprocess on an ephemeral loopback port."""

    def __init__(
        self,
        data_dir: Path | None,
        *extra_args: str,
        port: int | None = None,
        limits: bool = False,
        ca: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        # The suite checks semantics at full speed; tests/test_limits.py turns AWS's limits on.
        self.extra_args = list(extra_args) + ([] if limits else ["--no-limits"])
        self.port = port or free_port()
        self.tls = "--tls" in extra_args or "--tls-cert" in extra_args
        self.ca = ca  # the CA of a certificate brought with --tls-cert
        scheme = "https" if self.tls else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @classmethod
    def external(cls, endpoint: str) -> ServerProcess:
        self = cls(None, port=int(endpoint.rsplit(":", 1)[1].strip("/")))
        self.endpoint = endpoint.rstrip("/")
        return self

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "shardflow", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port)]
        if self.data_dir is not None:
            cmd += ["--data-dir", str(self.data_dir)]
        return cmd + self.extra_args

    def start(self) -> None:
        assert self.data_dir is not None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        env = dict(os.environ)
        env.pop("SHARDFLOW_TEST_ENDPOINT", None)
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log()}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not start in {START_TIMEOUT_S}s: {self.log()}")

    @property
    def ca_file(self) -> Path:
        """The CA the server's certificate is signed by: clients trust it."""
        if self.ca is not None:
            return self.ca
        assert self.data_dir is not None
        return self.data_dir / "tls" / "ca.pem"  # the local CA of --tls

    def healthy(self) -> bool:
        context = None
        if self.tls:
            if not self.ca_file.exists():
                return False
            context = ssl.create_default_context(cafile=str(self.ca_file))
        try:
            with urllib.request.urlopen(
                self.endpoint + "/healthz", timeout=1, context=context
            ) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def server_of_its_own(data_dir: Path, *args: str, **kwargs: Any) -> Iterator[ServerProcess]:
    """A fixture's body: a server of the test's own with these flags, stopped after; skipped when
    the suite runs against another endpoint (SHARDFLOW_TEST_ENDPOINT)."""
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("starts a server of its own")
    with ServerProcess(data_dir, *args, **kwargs) as server:
        yield server
