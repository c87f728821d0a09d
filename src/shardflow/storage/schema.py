"""The database schema, its migrations, and the checks that a database is whole enough to open.

Versions (``meta.schema_version``; a database without the key is version 1):

1. the first schema: records without checksums.
2. ``records.crc``: a CRC32C per record (``storage.checksum``). Existing rows keep NULL (they
   cannot be verified after the fact); adding a nullable column rewrites no row.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from shardflow.storage.refusal import DataDirError, damaged

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
# SQLite's quick_check reads the whole file: about 0.1 s per 100 MB cached, a few seconds cold.
# Past this size start-up skips it (and says so); `shardflow check-data` runs the full check.
STARTUP_CHECK_MAX_BYTES = 256 * 1024 * 1024
TABLES = ("meta", "streams", "shards", "records", "purges")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (uid INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (
    uid INTEGER PRIMARY KEY,
    stream_uid INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shards_by_stream ON shards (stream_uid);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    crc INTEGER  -- CRC32C (storage.checksum); NULL in rows written before version 2
);
-- Record ranges waiting to be deleted (deleted streams, expired records), worked off in
-- bounded batches in the background; rows survive a crash, so deletion resumes on restart.
CREATE TABLE IF NOT EXISTS purges (shard_uid INTEGER PRIMARY KEY, up_to INTEGER NOT NULL);
"""


def tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def create_or_migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create a new database's tables, or bring an existing one to ``SCHEMA_VERSION``.

    A database that has some of the tables but not all of them lost one (a dropped table, a
    damaged schema page): creating it afresh would hide the loss, so it is refused.
    """
    present = tables(conn) & set(TABLES)
    if present and present != set(TABLES):
        missing = ", ".join(sorted(set(TABLES) - present))
        raise damaged(path, f"the table(s) {missing} are missing from the database")
    if "meta" in present and version(conn) > SCHEMA_VERSION:
        raise DataDirError(
            path,
            f"was written by a newer shardflow (schema version {version(conn)})",
            "run that version, or restore a backup made by this one",
        )
    if present != set(TABLES):
        conn.executescript(SCHEMA)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
    if "crc" not in columns:
        conn.execute("ALTER TABLE records ADD COLUMN crc INTEGER")
    if version(conn) != SCHEMA_VERSION or "meta" not in present:
        conn.execute(
            "INSERT INTO meta VALUES ('schema_version', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SCHEMA_VERSION,),
        )


def version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return 1 if row is None else int(row[0])


def quick_check(conn: sqlite3.Connection, path: Path) -> str | None:
    """SQLite's structural check of the database at start-up: None when whole, else its first
    complaint. Skipped (None) for databases larger than ``STARTUP_CHECK_MAX_BYTES``."""
    size = path.stat().st_size
    if size > STARTUP_CHECK_MAX_BYTES:
        log.info(
            "%s is %d MB: start-up skips SQLite's integrity check; `shardflow check-data` runs it",
            path,
            size // 1_000_000,
        )
        return None
    rows = conn.execute("PRAGMA quick_check(3)").fetchall()
    if rows == [("ok",)]:
        return None
    return "; ".join(str(row[0]) for row in rows)
