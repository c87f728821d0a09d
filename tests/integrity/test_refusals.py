"""Start-up on a damaged data directory: one line naming the file, what is wrong and what to do,
exit code 2, no traceback (unless --debug); or, with --accept-data-loss, read-only."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.integrity.damage import (
    DB,
    STREAM,
    Filled,
    Refusal,
    assert_one_line_refusal,
    flip_random_bytes,
    overwrite_random_pages,
    read_all,
    run_sql,
    start_expecting_refusal,
    start_or_refusal,
    whole,
)
from tests.support import ServerProcess

SEEDS = int(os.environ.get("SHARDFLOW_DAMAGE_SEEDS", "4"))  # more: a longer hunt

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="damages a server's own data directory"
)


def test_not_a_database(filled: Filled) -> None:
    (filled.data_dir / DB).write_bytes(b"this is not a database, just text\n" * 100)
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB, "check-data")
    assert "is not a SQLite database" in line


def test_database_is_a_directory(filled: Filled) -> None:
    (filled.data_dir / DB).unlink()
    (filled.data_dir / DB).mkdir()
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB)
    assert "is a directory where a file belongs" in line


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("a file")
    line = assert_one_line_refusal(start_expecting_refusal(path), str(path))
    assert "is not a directory" in line


def test_metrics_database_that_is_not_a_database(filled: Filled) -> None:
    (filled.data_dir / "metrics.sqlite3").write_bytes(b"garbage" * 1000)
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), "metrics.sqlite3")
    assert "delete it (it holds only metric history)" in line


def test_dropped_records_table(filled: Filled) -> None:
    run_sql(filled.data_dir, "DROP TABLE records")
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB)
    assert "records" in line and "missing" in line


def test_bad_stream_document(filled: Filled) -> None:
    run_sql(filled.data_dir, "UPDATE streams SET doc = '{not json'")
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB)
    assert "the document of stream uid 1 is damaged" in line


def test_shard_document_missing_a_field(filled: Filled) -> None:
    run_sql(filled.data_dir, "UPDATE shards SET doc = json_remove(doc, '$.hash_start')")
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB)
    assert "missing field 'hash_start'" in line


def test_debug_shows_the_traceback(filled: Filled) -> None:
    run_sql(filled.data_dir, "UPDATE shards SET doc = json_remove(doc, '$.hash_start')")
    refusal = start_expecting_refusal(filled.data_dir, "--debug")
    assert refusal.code == 2
    assert "Traceback" in refusal.stderr and "KeyError" in refusal.stderr
    assert refusal.stderr.strip().splitlines()[-1].startswith("shardflow: cannot start: ")


def test_emptied_records_are_reported_as_loss(filled: Filled) -> None:
    run_sql(filled.data_dir, "DELETE FROM records")
    line = assert_one_line_refusal(
        start_expecting_refusal(filled.data_dir), DB, "--accept-data-loss", "check-data"
    )
    assert "400 acknowledged records are missing" in line
    assert f"stream {STREAM} shard shardId-000000000000" in line


def test_deleted_database_is_reported_as_loss(filled: Filled) -> None:
    (filled.data_dir / DB).unlink()
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB)
    assert "acknowledged records are missing" in line and "in no stream" in line


@pytest.mark.parametrize("damage", ["pages", "bytes"])
def test_random_damage_never_serves_a_damaged_payload(
    pristine: Filled, tmp_path: Path, damage: str
) -> None:
    """Whole pages overwritten, or 20 bytes flipped, at random: refused at start (SQLite's check,
    or lost records) in one line; then, with --accept-data-loss, refused the same way or started
    read-only; never a damaged payload served."""
    outcomes: list[str] = []
    for seed in range(SEEDS):
        data_dir = tmp_path / f"data-{seed}"
        shutil.copytree(pristine.data_dir, data_dir)
        if damage == "pages":
            overwrite_random_pages(data_dir, pages=3, seed=seed)
        else:
            flip_random_bytes(data_dir, count=20, seed=seed)
        for args in ((), ("--accept-data-loss",)):
            outcome = start_or_refusal(data_dir, *args)
            if isinstance(outcome, Refusal):
                assert_one_line_refusal(outcome, DB)
                outcomes.append("refused")
                continue
            try:  # already started: `with` would start it a second time
                back = read_all(outcome.endpoint)
                log = outcome.log()
            finally:
                outcome.stop()
            for sid, records in back.served.items():
                assert all(whole(d) for d in records), "a damaged payload was served"
                acked = pristine.acked[sid]
                assert "Traceback" not in log, log
                if args:  # read-only, loss accepted: what is served is acknowledged, in order
                    assert _in_order_within(records, acked)
                    continue
                # read-write: nothing silently skipped, the acknowledged records up to an error
                assert records == acked[: len(records)], f"records of {sid} silently missing"
                assert len(records) == len(acked) or sid in back.errors, (seed, log)
            if not args:  # started read-write: whatever was flipped, nothing was lost
                outcomes.append("started")
            else:
                outcomes.append("read-only")
    assert "refused" in outcomes or damage == "bytes", outcomes


def _in_order_within(served: list[bytes], acked: list[bytes]) -> bool:
    """``served`` is a subsequence of ``acked``."""
    remaining = iter(acked)
    return all(any(d == a for a in remaining) for d in served)


def test_accept_data_loss_starts_read_only(filled: Filled) -> None:
    run_sql(filled.data_dir, "DELETE FROM records WHERE id % 2 = 0")  # both shards lose records
    refusal = start_expecting_refusal(filled.data_dir)
    assert_one_line_refusal(refusal, "acknowledged records are missing")
    with ServerProcess(filled.data_dir, "--accept-data-loss") as server:
        client = make_client(server.endpoint)
        back = read_all(server.endpoint)
        assert not back.errors
        for sid, records in back.served.items():
            assert set(records) <= set(filled.acked[sid])
        with pytest.raises(ClientError) as caught:
            client.put_record(StreamName=STREAM, Data=b"x", PartitionKey="k")
        error = caught.value.response["Error"]
        assert error["Code"] == "ServiceUnavailable"
        assert "--accept-data-loss" in error["Message"] and "read-only" in error["Message"]
        with pytest.raises(ClientError):
            client.create_stream(StreamName="another", ShardCount=1)
        log = server.log()
    assert "starting read-only (--accept-data-loss)" in log
    assert "data loss: stream integrity shard shardId-" in log


def test_a_lost_deletion_is_not_a_loss(filled: Filled) -> None:
    """A stream deleted cleanly leaves no expectation behind."""
    with ServerProcess(filled.data_dir) as server:
        client = make_client(server.endpoint)
        client.delete_stream(StreamName=STREAM)
    with ServerProcess(filled.data_dir) as server:
        streams = make_client(server.endpoint).list_streams()["StreamNames"]
    assert STREAM not in streams


def test_stream_document_with_wrong_types(filled: Filled) -> None:
    conn_doc = orjson.dumps({"name": 5})
    run_sql(filled.data_dir, f"UPDATE streams SET doc = '{conn_doc.decode()}'")
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), DB)
    assert "the document of stream uid 1 is damaged" in line


def test_acknowledgement_log_that_is_a_directory(filled: Filled) -> None:
    (filled.data_dir / "acknowledged.log").unlink()
    (filled.data_dir / "acknowledged.log").mkdir()
    line = assert_one_line_refusal(start_expecting_refusal(filled.data_dir), "acknowledged.log")
    assert "is a directory where a file belongs" in line
