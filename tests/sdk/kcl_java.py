"""Build the Maven programs under clients/ once and run them as JVM subprocesses.

Maven's downloads are large and its start is slow, so a program is rebuilt only when its pom or
a source file is newer than the classpath file its last build wrote; the classes and the
dependency classpath in ``target/`` are then reused (no shaded jar: nothing to copy). The first
build on a machine fetches from Maven Central; later ones run offline (``-o``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "clients"
BUILD_TIMEOUT_S = 900.0  # a first build downloads the AWS SDK and its dependencies
# A small heap and the C1 compiler only: the tests run several JVMs on two shared cores.
JVM_OPTIONS = ("-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def _newest_input(project: Path) -> float:
    files = [project / "pom.xml", *(project / "src").rglob("*")]
    return max(f.stat().st_mtime for f in files if f.is_file())


def build(name: str) -> list[str]:
    """The classpath of ``clients/NAME`` (its classes, then its dependencies), built if stale."""
    project = CLIENTS / name
    target = project / "target"
    classpath_file = target / "classpath.txt"
    if shutil.which("mvn") is None or shutil.which("java") is None:
        pytest.fail("the SDK tests need a JDK 17+ and Maven (mvn) on PATH")
    fresh = classpath_file.exists() and classpath_file.stat().st_mtime >= _newest_input(project)
    if not fresh:
        goals = ["package", "dependency:build-classpath", f"-Dmdep.outputFile={classpath_file}"]
        offline = _mvn(project, ["-o", *goals])
        if offline.returncode != 0:  # a first build: fetch the dependencies
            online = _mvn(project, goals)
            if online.returncode != 0:
                pytest.fail(f"mvn build of clients/{name} failed:\n{online.stdout[-6000:]}")
    return [str(target / "classes"), *classpath_file.read_text().strip().split(os.pathsep)]


def _mvn(project: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mvn", "-B", "-q", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )


class JavaProcess:
    """A JVM running one main class, its output in ``log_path``."""

    def __init__(self, classpath: list[str], main: str, args: list[str], log_path: Path) -> None:
        self.command = ["java", *JVM_OPTIONS, "-cp", os.pathsep.join(classpath), main, *args]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> JavaProcess:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (the app's shutdown hook runs), then SIGKILL after ``timeout``."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def log_tail(self, chars: int = 6000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]


def wait_for(predicate: object, timeout: float, interval: float = 0.25) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds pass: a JVM's clock cannot be
    injected, so waiting on what it writes is the only way."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
