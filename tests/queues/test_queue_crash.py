"""4 queue consumers under load, poison records, and a kill -9 of the server mid-run
(tests/queues/workload.py says what is checked; the 100,000-record run is in docs/queues.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.queues.workload import run
from tests.support import ServerProcess, server_of_its_own

RECORDS = 3000  # the suite's size; `python -m tests.queues.workload` runs 100,000


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path / "data")


def test_consumers_crash_and_kill_9(own_server: ServerProcess) -> None:
    out = run(own_server, RECORDS, kill_at=0.5)
    assert out.kills == 1
    assert out.problems == [], out.problems
    assert out.restored == len(out.dead) > 0
    assert out.redeliveries > 0  # the poison records came back after their timeout
