"""``shardflow check-data``: what is whole and what is damaged in a data directory.

Runs with the server stopped. It checks, and reports per stream and shard:

- SQLite's ``integrity_check`` (structure: pages, b-trees, free lists);
- every record's CRC32C, read shard by shard in position order; a shard's *damaged tail*
  starts at its first record that fails its checksum, cannot be read, or is out of order;
- the acknowledgement log against the newest record of each shard (records acknowledged to a
  client that the database no longer holds).

``storage.repair`` acts on the report.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from shardflow.storage import datadir, schema
from shardflow.storage.acklog import FILE_NAME as ACK_LOG_FILE
from shardflow.storage.acklog import AckLog
from shardflow.storage.checksum import record_crc
from shardflow.storage.refusal import DataDirError
from shardflow.storage.sqlite import DB_FILENAME, POSITION_BITS, record_id, shard_bounds

SCAN_BATCH = 2_000  # records read per query while checking a shard
MAX_PROBLEMS = 20  # integrity_check complaints kept
_MASK = (1 << POSITION_BITS) - 1


@dataclass
class ShardReport:
    stream: str
    shard_id: str
    uid: int
    retention_hours: int
    records: int = 0  # whole records before the damaged tail
    unverified: int = 0  # written before checksums: cannot be checked
    newest: int | None = None  # position of the newest whole record
    damaged_from: int | None = None  # the damaged tail's first position
    damage: str | None = None
    acked_position: int | None = None  # the acknowledgement log's mark
    missing: int = 0  # acknowledged records the database no longer holds
    missing_exact: bool = True

    @property
    def whole(self) -> bool:
        return self.damaged_from is None and self.missing == 0


@dataclass
class Report:
    path: Path
    problems: list[str] = field(default_factory=list)  # integrity_check, documents, orphans
    shards: list[ShardReport] = field(default_factory=list)
    unreadable_metadata: str | None = None  # streams/shards cannot be read: nothing to repair
    acklog: AckLog | None = None
    position: int = 0  # meta's high-water mark

    @property
    def damaged(self) -> bool:
        return bool(self.problems) or any(not s.whole for s in self.shards)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def check(directory: Path) -> Report:
    """Check a data directory (raises ``DataDirError`` when there is nothing to check)."""
    path = directory / DB_FILENAME
    if not directory.is_dir():
        raise DataDirError(
            directory, "is not a directory", "point --data-dir at the data directory"
        )
    if not path.exists():
        raise DataDirError(path, "does not exist", "point --data-dir at the data directory")
    datadir.prepare_database(path)
    report = Report(path)
    report.acklog = AckLog(directory / ACK_LOG_FILE)
    datadir.check_regular(report.acklog.path)
    report.acklog.load()
    try:
        conn = connect(path)
    except sqlite3.DatabaseError as exc:
        raise DataDirError(
            path, f"SQLite cannot open it ({exc})", "restore it from a backup"
        ) from exc
    with contextlib.closing(conn):
        try:
            rows = conn.execute(f"PRAGMA integrity_check({MAX_PROBLEMS})").fetchall()
            report.problems += [str(r[0]) for r in rows if r != ("ok",)]
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"integrity_check: {exc}")
        try:
            missing = set(schema.TABLES) - schema.tables(conn)
            if missing:
                report.problems.append(f"missing tables: {', '.join(sorted(missing))}")
            row = conn.execute("SELECT value FROM meta WHERE key='position'").fetchone()
            report.position = int(row[0]) if row else 0
            streams = conn.execute("SELECT uid, doc FROM streams").fetchall()
            shards = conn.execute("SELECT uid, stream_uid, doc FROM shards ORDER BY uid").fetchall()
            has_crc = "crc" in {r[1] for r in conn.execute("PRAGMA table_info(records)")}
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            report.unreadable_metadata = str(exc)
            report.problems.append(f"the metadata cannot be read: {exc}")
            return report
        report.shards = _shard_reports(report, streams, shards)
        for shard in report.shards:
            _check_shard(conn, shard, has_crc)
        _compare_acknowledged(report, conn)
    return report


def _shard_reports(
    report: Report, streams: list[tuple[int, str]], shards: list[tuple[int, int, str]]
) -> list[ShardReport]:
    names: dict[int, tuple[str, int]] = {}
    for uid, doc in streams:
        try:
            parsed = orjson.loads(doc)
            names[uid] = (str(parsed["name"]), int(parsed.get("retention_hours", 24)))
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"the document of stream uid {uid} is damaged ({exc!r})")
    out = []
    for uid, stream_uid, doc in shards:
        try:
            index = int(orjson.loads(doc)["index"])
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"the document of shard uid {uid} is damaged ({exc!r})")
            continue
        name, retention = names.get(stream_uid, (f"(stream uid {stream_uid})", 24))
        out.append(ShardReport(name, f"shardId-{index:012d}", uid, retention))
    return out


def scan(conn: sqlite3.Connection, uid: int, has_crc: bool = True) -> Iterator[tuple[Any, ...]]:
    """A shard's rows in position order, in batches (a damaged page raises DatabaseError)."""
    lo, hi = shard_bounds(uid)
    columns = "id, arrival_ms, partition_key, data" + (", crc" if has_crc else ", NULL")
    while True:
        rows = conn.execute(
            f"SELECT {columns} FROM records WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?",
            (lo, hi, SCAN_BATCH),
        ).fetchall()
        yield from rows
        if len(rows) < SCAN_BATCH:
            return
        lo = rows[-1][0] + 1


def verify_row(row: tuple[Any, ...]) -> str | None:
    """Why a row is damaged, or None when it is whole (or has no checksum to check)."""
    rid, arrival, key, data, crc = row
    if crc is None:
        if not isinstance(key, str) or not isinstance(data, bytes | str):
            return "a field has the wrong type"
        return None
    try:
        if record_crc(rid, arrival, key, data) != crc:
            return "fails its checksum"
    except (TypeError, AttributeError, ValueError, OverflowError) as exc:
        return f"a field has the wrong type ({exc})"
    except Exception as exc:  # struct.error and the like: a value no record can hold
        return f"cannot be checked ({exc})"
    return None


def _check_shard(conn: sqlite3.Connection, shard: ShardReport, has_crc: bool) -> None:
    previous = -1
    try:
        for row in scan(conn, shard.uid, has_crc):
            position = row[0] & _MASK
            problem = "out of order" if row[0] <= previous else verify_row(row)
            if problem is not None:
                shard.damaged_from, shard.damage = position, f"record {problem}"
                return
            previous = row[0]
            shard.records += 1
            shard.unverified += row[4] is None
            shard.newest = position
    except sqlite3.DatabaseError as exc:
        shard.damaged_from = 0 if shard.newest is None else shard.newest + 1
        shard.damage = f"records cannot be read ({exc})"


def _compare_acknowledged(report: Report, conn: sqlite3.Connection) -> None:
    """Acknowledged records past each shard's newest whole record (retention aside)."""
    from shardflow.storage.acklog import missing_count

    acklog = report.acklog
    assert acklog is not None
    now = time.time_ns() // 1_000_000
    by_uid = {s.uid: s for s in report.shards}
    for uid, mark in acklog.marks.items():
        shard = by_uid.get(uid)
        if shard is None:
            count, _ = missing_count(acklog, uid, None)
            report.problems.append(
                f"shard uid {uid} has {count} acknowledged records but is in no stream"
            )
            continue
        shard.acked_position = mark.position
        kept = -1 if shard.newest is None else shard.newest
        if mark.position <= kept:
            continue
        if mark.arrival_ms < now - shard.retention_hours * 3_600_000:
            continue  # expired: deleted on purpose
        shard.missing, shard.missing_exact = missing_count(acklog, uid, shard.newest)


def record_range(uid: int, first: int) -> tuple[int, int]:
    """The rowids of a shard from position ``first`` on."""
    return record_id(uid, first), shard_bounds(uid)[1]
