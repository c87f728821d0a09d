"""The storage read checks a page's checksums together: a damaged record anywhere in a page is
named by its own position, rows before checksums existed are served, and the byte budget
counts keys in UTF-8 (``storage.records.read``)."""

from __future__ import annotations

import sqlite3

import pytest

from shardflow.storage.checksum import CorruptRecord, record_crc
from shardflow.storage.records import RecordPage, read, record_id

SCHEMA = (
    "CREATE TABLE records (id INTEGER PRIMARY KEY, arrival_ms INTEGER NOT NULL,"
    " partition_key TEXT NOT NULL, data BLOB NOT NULL, crc INTEGER)"
)


def _table(keys: list[str], crc: bool = True) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(SCHEMA)
    for i, key in enumerate(keys):
        rid, data = record_id(3, 10 + i), bytes([i]) * 100
        check = record_crc(rid, 1000 + i, key, data) if crc else None
        conn.execute("INSERT INTO records VALUES (?,?,?,?,?)", (rid, 1000 + i, key, data, check))
    return conn


def test_a_whole_page_comes_back_as_columns_and_records() -> None:
    conn = _table([f"k{i}" for i in range(20)])
    page = read(conn, 3, 12, 100, 10 * 1024 * 1024)
    assert list(page.positions) == list(range(12, 30))
    assert [r.partition_key for r in page] == [f"k{i}" for i in range(2, 20)]
    assert page[0].data == bytes([2]) * 100 and page[-1].arrival_ms == 1019
    assert page.size == 18 * 100 + sum(len(f"k{i}") for i in range(2, 20))


def test_a_damaged_record_mid_page_is_named_by_its_position() -> None:
    conn = _table([f"k{i}" for i in range(20)])
    conn.execute("UPDATE records SET data = ? WHERE id = ?", (b"x" * 100, record_id(3, 23)))
    with pytest.raises(CorruptRecord) as caught:
        read(conn, 3, 10, 100, 10 * 1024 * 1024)
    assert caught.value.position == 23 and "checksum" in caught.value.reason
    assert len(read(conn, 3, 10, 13, 10 * 1024 * 1024)) == 13  # the records before it


def test_a_field_without_its_type_stops_the_read_after_the_last_good_record() -> None:
    conn = _table([f"k{i}" for i in range(5)])
    conn.execute("UPDATE records SET data = 'text' WHERE id = ?", (record_id(3, 12),))
    with pytest.raises(CorruptRecord) as caught:
        read(conn, 3, 10, 100, 10 * 1024 * 1024)
    assert caught.value.position == 12 and "cannot be read" in caught.value.reason


def test_rows_written_before_checksums_are_served() -> None:
    conn = _table([f"k{i}" for i in range(10)], crc=False)
    assert [r.position for r in read(conn, 3, 10, 100, 10 * 1024 * 1024)] == list(range(10, 20))


def test_the_budget_counts_keys_in_utf8_and_keeps_one_record_at_least() -> None:
    conn = _table(["\u00e9" * 10] * 5)  # 20 UTF-8 bytes a key, 120 bytes a record
    assert len(read(conn, 3, 10, 100, 360)) == 3
    assert len(read(conn, 3, 10, 100, 359)) == 2
    assert len(read(conn, 3, 10, 100, 1)) == 1  # one record even over the budget
    assert read(conn, 3, 10, 100, 360).size == 360


def test_a_page_past_retention_keeps_the_later_records_and_their_size() -> None:
    page = read(_table(["a", "bb", "ccc"]), 3, 10, 100, 10 * 1024 * 1024)
    later = page.arrived_since(1001)
    assert [r.partition_key for r in later] == ["bb", "ccc"] and later.size == 205
    assert len(RecordPage.of([])) == 0
