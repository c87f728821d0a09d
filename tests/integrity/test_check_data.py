"""`shardflow check-data`: exit codes 0 (whole), 1 (damaged), 2 (nothing to check), and what
`--repair` does: damaged tails moved aside with a record of it, the rest served again."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

from tests.integrity.damage import (
    DB,
    Filled,
    check_data,
    flip_payload_bytes,
    overwrite_random_pages,
    read_all,
    run_sql,
    whole,
)
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="damages a server's own data directory"
)


def test_a_whole_directory_exits_0(filled: Filled) -> None:
    done = check_data(filled.data_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "whole: 2 shards, 0 problems" in done.stdout
    assert done.stdout.count("records whole") == 2
    assert "stream integrity shardId-000000000000" in done.stdout


def test_nothing_to_check_exits_2(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / DB).write_bytes(b"not a database" * 10)
    done = check_data(tmp_path / "data")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("shardflow: cannot check: ")
    assert "is not a SQLite database" in done.stderr and "Traceback" not in done.stderr
    assert check_data(tmp_path / "nowhere").returncode == 2


def test_damaged_payloads_exit_1_and_repair_moves_the_tails_aside(filled: Filled) -> None:
    flip_payload_bytes(filled.data_dir, [150])
    done = check_data(filled.data_dir)
    assert done.returncode == 1, done.stdout
    assert "DAMAGED from position" in done.stdout and "fails its checksum" in done.stdout

    repaired = check_data(filled.data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "moved the tail of stream integrity" in repaired.stdout
    aside = next((filled.data_dir / "damaged").iterdir())
    assert "moved the tail" in (aside / "repair.txt").read_text()
    conn = sqlite3.connect(aside / "records.sqlite3")
    try:
        moved = conn.execute("SELECT data, problem FROM records ORDER BY id").fetchall()
    finally:
        conn.close()
    assert moved[0][1] == "fails its checksum" and b"SFPAYLOAD0000150-" in moved[0][0]
    assert all(problem is None for _, problem in moved[1:])
    assert (aside / DB).exists()  # the old database, kept
    assert check_data(filled.data_dir).returncode == 0

    with ServerProcess(filled.data_dir) as server:
        back = read_all(server.endpoint)
    assert not back.errors
    for sid, records in back.served.items():
        acked = filled.acked[sid]
        assert records == acked[: len(records)]
        if len(records) < len(acked):
            assert acked[len(records)][:17] == b"SFPAYLOAD0000150-"
            assert len(records) + len(moved) == len(acked)


def test_missing_records_exit_1_and_repair_accepts_the_loss(filled: Filled) -> None:
    run_sql(filled.data_dir, "DELETE FROM records WHERE (id & 1099511627775) > 300")  # the tails
    done = check_data(filled.data_dir)
    assert done.returncode == 1
    missing = re.findall(r"; (\d+) acknowledged records MISSING", done.stdout)
    assert sum(int(n) for n in missing) == 100, done.stdout
    repaired = check_data(filled.data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert "accepted the loss of" in repaired.stdout
    with ServerProcess(filled.data_dir) as server:
        back = read_all(server.endpoint)
    assert not back.errors


def test_random_pages_are_found_and_repaired_or_left_for_a_backup(filled: Filled) -> None:
    overwrite_random_pages(filled.data_dir, pages=3, seed=1)
    done = check_data(filled.data_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    repaired = check_data(filled.data_dir, "--repair")
    if repaired.returncode != 0:  # the metadata itself was hit: only a backup helps
        assert "restore" in repaired.stdout + repaired.stderr
        return
    assert check_data(filled.data_dir).returncode == 0
    with ServerProcess(filled.data_dir) as server:
        back = read_all(server.endpoint)
    assert not back.errors
    for sid, records in back.served.items():
        assert all(whole(d) for d in records)
        assert records == filled.acked[sid][: len(records)]
