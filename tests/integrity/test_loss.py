"""Acknowledged records missing after a crash: refused (default), read-only with
--accept-data-loss, accepted by `check-data --repair`; sequence numbers are never reused."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from shardflow.model import sequence
from tests.conftest import make_client
from tests.integrity.damage import (
    DB,
    STREAM,
    assert_one_line_refusal,
    check_data,
    fill,
    read_all,
    start_expecting_refusal,
    tear_wal,
    write,
)
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="kills a server of its own"
)


def test_torn_wal_after_kill_9(tmp_path: Path) -> None:
    """As a machine that crashed without syncing leaves it: the database file as of the last
    clean stop (the later checkpoints never reached the disk) and the WAL cut short."""
    filled = fill(tmp_path / "data", 300)
    data_dir = filled.data_dir
    before = tmp_path / "db-before"
    shutil.copy(data_dir / DB, before)
    server = ServerProcess(data_dir)
    server.start()
    sequences: list[str] = []
    # A reader's open snapshot keeps every checkpoint short of the new frames, and the WAL from
    # restarting: as on a machine whose checkpoints never reached the disk. (Otherwise a
    # checkpoint that caught up between two writes lets SQLite restart the WAL, which it does
    # only once the database file is synced: the old copy below would then be no crash at all.)
    snapshot = sqlite3.connect(f"file:{data_dir / DB}?mode=ro", uri=True)  # its close keeps the WAL
    snapshot.execute("BEGIN")
    snapshot.execute("SELECT count(*) FROM records").fetchone()
    try:
        acked = write(make_client(server.endpoint), 300, 600, sequences)
    finally:
        server.kill()  # kill -9
        snapshot.close()
    shutil.copy(before, data_dir / DB)  # the checkpoints' writes never reached the disk
    assert tear_wal(data_dir) > 32, "the WAL held the last commits"
    total = {sid: filled.acked.get(sid, []) + acked.get(sid, []) for sid in acked}

    refusal = start_expecting_refusal(data_dir)
    line = assert_one_line_refusal(refusal, DB, "--accept-data-loss", "check-data")

    with ServerProcess(data_dir, "--accept-data-loss") as server:
        back = read_all(server.endpoint)
    assert not back.errors
    lost = 0
    for sid, records in back.served.items():
        assert records == total[sid][: len(records)]  # what is left is whole and in order
        lost += len(total[sid]) - len(records)
    assert lost > 0
    assert f"{lost} acknowledged records are missing" in line, line

    checked = check_data(data_dir)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "acknowledged records MISSING" in checked.stdout

    repaired = check_data(data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "accepted the loss of" in repaired.stdout
    assert check_data(data_dir).returncode == 0

    # Writable again; no new record takes a sequence number a client was given before.
    with ServerProcess(data_dir) as server:
        client = make_client(server.endpoint)
        new = client.put_records(
            StreamName=STREAM,
            Records=[{"Data": b"after", "PartitionKey": str(i)} for i in range(50)],
        )
    highest_acked = max(_position(seq) for seq in sequences)
    for record in new["Records"]:
        assert _position(record["SequenceNumber"]) > highest_acked


def _position(text: str) -> int:
    decoded = sequence.decode(text)
    assert decoded is not None
    return decoded.position
