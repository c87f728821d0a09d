"""``shardflow tail`` exits at once on Ctrl-C, even while a GetRecords call hangs.

The server is stopped (SIGSTOP) so that the reader's next GetRecords waits for an answer that
does not come: the state a starved server on a loaded machine puts it in for seconds. Ctrl-C
used to wait for that call (interpreter exit joins the consumer's worker threads), up to
botocore's 60 s read timeout.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_client
from tests.support import ServerProcess, server_of_its_own

REGION = "us-east-1"
EXIT_BOUND_S = 8.0  # generous on a loaded machine; without the fix the exit takes 60 s


@pytest.fixture
def stoppable_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path / "data")


def test_ctrl_c_does_not_wait_for_a_hanging_get_records(
    stoppable_server: ServerProcess,
) -> None:
    kinesis = make_client(stoppable_server.endpoint, region=REGION)
    kinesis.create_stream(StreamName="hang", ShardCount=1)
    cmd = [sys.executable, "-m", "shardflow", "tail", "hang", "--format", "line"]
    cmd += ["--endpoint-url", stoppable_server.endpoint, "--region", REGION]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = stoppable_server.proc
    assert server is not None
    try:
        assert proc.stdout is not None
        line = ""
        for n in range(1, 300):  # --from latest: write until the tail shows one
            kinesis.put_record(StreamName="hang", PartitionKey="k", Data=json.dumps(n).encode())
            if select.select([proc.stdout], [], [], 0.1)[0]:
                line = proc.stdout.readline()
                break
        assert line.strip(), "tail printed nothing"
        os.kill(server.pid, signal.SIGSTOP)
        time.sleep(1.5)  # the reader polls every 0.5 s when idle: a call is now hanging
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=EXIT_BOUND_S)
        took = time.monotonic() - started
    finally:
        os.kill(server.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "records" in err and "Traceback" not in err
    assert took < EXIT_BOUND_S
