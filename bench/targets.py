"""Benchmark targets: the peer emulators (run by the peers' scripts, see peerdirs.py), shardflow."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peerdirs
import procstats

SRC_DIR = Path(__file__).resolve().parent.parent / "src"
PEER_NAMES = ("kinesalite", "kinesis-local", "moto", "kinesalite-disk")
# ferrokinesis (Rust, crates.io), built and started by bench/peers/ferrokinesis.sh: name -> mode.
FERRO_MODES = {"ferrokinesis": "memory", "ferrokinesis-durable": "durable"}
FERRO_SCRIPT = Path(__file__).resolve().parent / "peers" / "ferrokinesis.sh"
SHARDFLOW = "shardflow"
# The loopback floor: rawhttp's null server answering every request with a fixed PutRecord
# body; only the sequential latency phase runs against it.
FLOOR = "floor"
ALL_TARGETS = (*PEER_NAMES, *FERRO_MODES, SHARDFLOW, FLOOR)
DEFAULT_TARGETS = (FLOOR, "kinesalite", "kinesis-local", "moto", *FERRO_MODES, SHARDFLOW)
HOST = "127.0.0.1"


class TargetStartError(RuntimeError):
    """The target did not start; the benchmark skips it."""


def free_port_pair() -> int:
    """A loopback port P with P and P+1 both free (kinesis-local also opens P+1)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = int(s.getsockname()[1])
        if port < 65535 and _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError("no free loopback port pair")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass
class RunningServer:
    """A started target: where it listens, its root PID, and how to stop it."""

    name: str
    port: int
    pid: int
    data_dir: Path | None = None
    log_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    _popen: subprocess.Popen[Any] | None = None
    _cleanup_dir: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self._popen is None and (peerdirs.scripts() / "stop.sh").exists():
            _run_script("stop.sh", str(self.pid))
        elif self._popen is None:  # no peer scripts here (ferrokinesis runs without them)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        else:
            _stop_popen(self._popen)
        if self._cleanup_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            if self.log_path is not None:
                self.log_path.unlink(missing_ok=True)


def _run_script(
    script: str, *args: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(peerdirs.scripts() / script), *args], capture_output=True, text=True, timeout=timeout
    )


def _stop_popen(proc: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """SIGTERM our child, then SIGKILL its remaining tree (children first) after ``grace_s``."""
    if proc.poll() is not None:
        return
    tree = procstats.process_tree(proc.pid)
    proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    for pid in reversed(tree):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(5)


def start_peer(name: str) -> RunningServer:
    why_not = peerdirs.missing(name)
    if why_not is not None:
        raise TargetStartError(why_not)
    port = free_port_pair()
    try:
        done = _run_script("start.sh", name, str(port))
    except subprocess.TimeoutExpired as exc:
        raise TargetStartError(f"{name}: start.sh timed out") from exc
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        tail = (done.stderr or "").strip().splitlines()[-5:]
        raise TargetStartError(
            f"{name}: start.sh failed (rc {done.returncode}): {' | '.join(tail)}"
        )
    server = RunningServer(name, port, int(done.stdout.strip()))
    server.notes.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
    return server


def start_ferrokinesis(name: str) -> RunningServer:
    """Start ferrokinesis in its in-memory or durable (WAL + snapshots) mode; stop.sh stops it."""
    binary = Path(
        subprocess.run([str(FERRO_SCRIPT), "path"], capture_output=True, text=True).stdout.strip()
    )
    if not binary.exists():
        raise TargetStartError(f"{name} is not built at {binary} (run {FERRO_SCRIPT} install)")
    port = free_port_pair()
    try:
        done = subprocess.run(
            [str(FERRO_SCRIPT), "start", FERRO_MODES[name], str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise TargetStartError(f"{name}: ferrokinesis.sh start timed out") from exc
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        tail = (done.stderr or "").strip().splitlines()[-5:]
        raise TargetStartError(f"{name}: start failed (rc {done.returncode}): {' | '.join(tail)}")
    server = RunningServer(name, port, int(done.stdout.strip()))
    guard = peerdirs.scripts() / "loopback_guard.sh"
    if guard.exists() and subprocess.run([str(guard), str(server.pid)]).returncode != 0:
        raise TargetStartError(f"{name} listened on a non-loopback address (killed)")
    return server


def shardflow_command(port: int, data_dir: Path, python: str, python_opts: str) -> list[str]:
    return [
        python,
        *shlex.split(python_opts),
        "-m",
        "shardflow",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--durability",
        "process",
    ]


def start_shardflow(
    python: str, python_opts: str = "", data_root: Path | None = None, timeout_s: float = 30.0
) -> RunningServer:
    """Start `python -m shardflow serve` in a fresh data dir and wait for GET /healthz == 200."""
    port = free_port_pair()
    data_dir = Path(tempfile.mkdtemp(prefix="shardflow-bench-", dir=data_root))
    log_path = data_dir.with_name(data_dir.name + ".log")
    cmd = shardflow_command(port, data_dir, python, python_opts)
    env = dict(os.environ)  # src/ on the path, in case the venv has no (editable) install yet
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC_DIR), env.get("PYTHONPATH")) if p)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = RunningServer(SHARDFLOW, port, proc.pid, data_dir, log_path, _popen=proc)
    server._cleanup_dir = True
    try:
        _wait_healthy(server, proc, timeout_s)
        _check_loopback(server)
    except TargetStartError:
        server.stop()
        raise
    server.notes.append(" ".join(cmd))
    return server


def _wait_healthy(server: RunningServer, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TargetStartError(
                f"shardflow exited early (rc {proc.returncode}): {log_tail(server.log_path)}"
            )
        if _healthy(server.endpoint):
            return
        time.sleep(0.1)
    raise TargetStartError(f"shardflow: no healthy /healthz within {timeout_s:.0f}s")


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/healthz", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _check_loopback(server: RunningServer) -> None:
    guard = peerdirs.scripts() / "loopback_guard.sh"
    if not guard.exists():
        return
    done = subprocess.run([str(guard), str(server.pid)], capture_output=True, text=True)
    if done.returncode != 0:
        raise TargetStartError(f"shardflow listened on a non-loopback address: {done.stderr}")


def log_tail(path: Path | None, lines: int = 4) -> str:
    if path is None or not path.exists():
        return ""
    tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    return " | ".join(tail)


def start_floor(python: str) -> RunningServer:
    """The null server of rawhttp.py, answering a fixed PutRecord body (the loopback floor)."""
    port = free_port_pair()
    script = Path(__file__).resolve().parent / "rawhttp.py"
    proc = subprocess.Popen(
        [python, str(script), "null-server", str(port), "0"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        _stop_popen(proc)
        raise TargetStartError("the null server did not start")
    return RunningServer(FLOOR, port, proc.pid, _popen=proc)


def start_target(name: str, python: str, python_opts: str = "") -> RunningServer:
    if name == FLOOR:
        return start_floor(python)
    if name == SHARDFLOW:
        return start_shardflow(python, python_opts)
    if name in FERRO_MODES:
        return start_ferrokinesis(name)
    if name in PEER_NAMES or name.endswith("-defaults"):
        return start_peer(name)
    raise TargetStartError(f"unknown target {name!r}")


def install_peers() -> str:
    """Run install.sh (idempotent); return its summary output."""
    if not (peerdirs.scripts() / "install.sh").exists():
        raise RuntimeError(peerdirs.missing("kinesalite"))
    done = _run_script("install.sh", timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"install.sh failed: {done.stderr[-2000:]}")
    return done.stdout.strip()
