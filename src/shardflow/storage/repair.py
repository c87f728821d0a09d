"""``shardflow check-data --repair``: move damaged shard tails aside and accept what is lost.

A shard's order is its contract: a consumer that skipped a damaged record would never know it
had. So repair keeps each shard's records up to its first damaged one and moves that record and
everything after it (what can still be read) into ``damaged/<time>/records.sqlite3``, with the
reason per record, for the operator to inspect or replay. When SQLite's integrity check fails or
a tail must go, the database is rebuilt from what is whole and the old files are moved into the
same folder; otherwise it is left in place. Either way the acknowledgement log is reset to what
the database now holds (the loss is accepted) and the position counter is raised past every
position ever acknowledged, so no new record can reuse a sequence number a client holds.
``damaged/<time>/repair.txt`` records what was done.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from shardflow.storage import datadir, schema
from shardflow.storage.acklog import Mark
from shardflow.storage.check import Report, ShardReport, connect, scan, verify_row
from shardflow.storage.refusal import DataDirError
from shardflow.storage.sqlite import POSITION_BITS, shard_bounds

ASIDE_DIR = "damaged"
_MASK = (1 << POSITION_BITS) - 1
_QUARANTINE_SCHEMA = """
CREATE TABLE records (
    id INTEGER PRIMARY KEY,  -- as in the data directory: shard uid << 40 | position
    arrival_ms, partition_key, data, crc,
    stream TEXT, shard_id TEXT, position INTEGER,
    problem TEXT  -- why it failed its check; NULL: whole, moved because an earlier one was not
);
"""


@dataclass
class Repair:
    aside: Path
    actions: list[str] = field(default_factory=list)


def repair(directory: Path, report: Report) -> Repair:
    """Repair the data directory as the report found it (the server must be stopped)."""
    if report.unreadable_metadata is not None:
        raise DataDirError(
            report.path,
            f"its streams and shards cannot be read ({report.unreadable_metadata})",
            "restore the data directory from a backup",
        )
    documents = [p for p in report.problems if p.startswith("the document of")]
    if documents:
        raise DataDirError(
            report.path, f"{documents[0]}; repair cannot rebuild it", "restore it from a backup"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = directory / ASIDE_DIR / stamp
    aside.mkdir(parents=True, mode=datadir.DIR_MODE)
    done = Repair(aside)
    acklog = report.acklog
    assert acklog is not None
    highest = max([report.position, *(m.position for m in acklog.marks.values())])
    highest = max([highest, *(s.newest or 0 for s in report.shards)])
    rebuild = any(s.damaged_from is not None for s in report.shards) or any(
        not p.startswith("shard uid") for p in report.problems
    )
    if rebuild:
        _rebuild(directory, report, done, highest)
    else:
        with contextlib.closing(connect(report.path)) as conn:
            conn.execute("UPDATE meta SET value=? WHERE key='position'", (highest,))
    for shard in report.shards:
        if shard.missing:
            done.actions.append(
                f"accepted the loss of {shard.missing} acknowledged records of stream"
                f" {shard.stream} {shard.shard_id}"
            )
    acklog.reset(
        {s.uid: Mark(s.newest, s.records, 0) for s in report.shards if s.newest is not None}
    )
    done.actions.append(
        f"reset {acklog.path.name} to the records now stored; positions continue after {highest}"
    )
    (aside / "repair.txt").write_text("\n".join(done.actions) + "\n")
    return done


def _rebuild(directory: Path, report: Report, done: Repair, highest: int) -> None:
    """A new database from the whole parts of the old one; the old files and the damaged
    tails go aside."""
    new_path = report.path.with_name(report.path.name + ".repairing")
    for leftover in (new_path, Path(f"{new_path}-journal")):
        leftover.unlink(missing_ok=True)
    datadir.prepare_database(new_path)
    quarantine = aside_db(done.aside)
    with (
        contextlib.closing(connect(report.path)) as old,
        contextlib.closing(connect(new_path)) as new,
        contextlib.closing(quarantine),
    ):
        new.executescript(schema.SCHEMA)
        new.execute("BEGIN")
        for table in ("meta", "streams", "shards", "purges"):
            with contextlib.suppress(sqlite3.DatabaseError):
                rows = old.execute(f"SELECT * FROM {table}").fetchall()
                marks = ",".join("?" * len(rows[0])) if rows else ""
                if rows:
                    new.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", rows)
        new.execute(
            "INSERT OR REPLACE INTO meta VALUES ('position', ?), ('schema_version', ?)",
            (highest, schema.SCHEMA_VERSION),
        )
        quarantine.execute("BEGIN")
        for shard in report.shards:
            _copy_shard(old, new, quarantine, shard, done)
        new.execute("COMMIT")
        quarantine.execute("COMMIT")
        new.execute("PRAGMA journal_mode=WAL")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{report.path}{suffix}")
        if source.exists():
            os.replace(source, done.aside / source.name)
    os.replace(new_path, report.path)
    done.actions.append(
        f"rebuilt {report.path.name} from its whole records; the old files are in {done.aside}"
    )


def aside_db(aside: Path) -> sqlite3.Connection:
    path = aside / "records.sqlite3"
    datadir.prepare_database(path)
    conn = connect(path)
    conn.executescript(_QUARANTINE_SCHEMA)
    return conn


def _copy_shard(
    old: sqlite3.Connection,
    new: sqlite3.Connection,
    quarantine: sqlite3.Connection,
    shard: ShardReport,
    done: Repair,
) -> None:
    """The shard's whole head into ``new``; its damaged tail (what can be read) aside."""
    end = shard.damaged_from
    insert = "INSERT INTO records VALUES (?, ?, ?, ?, ?)"
    with contextlib.suppress(sqlite3.DatabaseError):
        for row in scan(old, shard.uid):
            if end is not None and (row[0] & _MASK) >= end:
                break
            new.execute(insert, row)
    if end is None:
        return
    moved, problems = _salvage(old, quarantine, shard, end)
    done.actions.append(
        f"moved the tail of stream {shard.stream} {shard.shard_id} from position {end} aside:"
        f" {moved} readable records ({problems} damaged) into {done.aside / 'records.sqlite3'}"
        f" ({shard.damage})"
    )


def _salvage(
    old: sqlite3.Connection, quarantine: sqlite3.Connection, shard: ShardReport, first: int
) -> tuple[int, int]:
    """Copy what can be read of a shard from ``first`` on, stepping over unreadable rows."""
    lo = (shard.uid << POSITION_BITS) | first
    hi = shard_bounds(shard.uid)[1]
    moved = problems = 0
    failures = 0
    while lo <= hi and failures < 3:
        try:
            rows = old.execute(
                "SELECT id, arrival_ms, partition_key, data, crc FROM records"
                " WHERE id BETWEEN ? AND ? ORDER BY id LIMIT 1000",
                (lo, hi),
            ).fetchall()
        except sqlite3.DatabaseError:
            failures += 1
            lo += 1  # step past the row that cannot be read
            continue
        if not rows:
            break
        for row in rows:
            problem = verify_row(row)
            problems += problem is not None
            quarantine.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, shard.stream, shard.shard_id, row[0] & _MASK, problem),
            )
            moved += 1
        lo = rows[-1][0] + 1
    return moved, problems
