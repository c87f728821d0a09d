#!/usr/bin/env python3
"""The SQLite write path in isolation: group commit, synchronous modes, and the record key.

    .venv/bin/python bench/sqlite_patterns.py                 # both parts, 3 rounds
    .venv/bin/python bench/sqlite_patterns.py --part store --seconds 2 --rounds 5
    .venv/bin/python bench/sqlite_patterns.py --part schema --records 200000

Part ``store``: SqliteStore.append awaited in a loop by 1, 16 or 64 concurrent asyncio tasks
(uvloop), each appending 1 record or a 500-record batch, for ``--seconds``:

* ``inline``: the store's event-loop group commit (every job queued in one loop iteration shares
  one transaction; the store's default for durability memory/process);
* ``thread``: the store's writer-thread group commit (the writer takes every waiting job into one
  transaction; its default for fsync);
* ``per-call``: the same writer thread, but one transaction per job;

each with synchronous=OFF, NORMAL and FULL (durability memory, process and fsync), on disk
(/var/tmp). Records/commit is records/s divided by commits/s.

Part ``schema``: raw sqlite3 on one connection (WAL, synchronous=NORMAL, the store's pragmas),
``--records`` 1 KiB records routed at random over 4 shards, committed 500 at a time, into:

* ``packed``: rowid = shard << 40 | position (what the store does);
* ``without-rowid``: PRIMARY KEY (shard, position) WITHOUT ROWID;
* ``rowid+index``: rowid in arrival order plus an index on (shard, position);

then reading 10,000 records of one shard in key order, from a fresh connection (SQLite cache
cold, OS cache warm) and again on the same connection (warm). See bench/README-choices.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from shardflow.storage import sqlite as store_mod
from shardflow.storage.sqlite import NewRecord, SqliteStore

RECORD_SIZE = 1024
SHARDS = 4
SYNC_BY_DURABILITY = {"memory": "OFF", "process": "NORMAL", "fsync": "FULL"}


# ----------------------------------------------------------------------------- part 1: the store


class PatternStore(SqliteStore):
    """SqliteStore with the write pattern forced, counting commits.

    * ``inline``: the store's own event-loop group commit (its default for memory/process);
    * ``thread``: the store's own writer-thread group commit (its default for fsync);
    * ``per-call``: the writer thread, but one transaction per job (no grouping).
    """

    def __init__(self, directory: Path, durability: str, pattern: str) -> None:
        super().__init__(directory, durability)
        self.pattern = pattern
        self._inline = pattern == "inline"
        self.commits = 0

    def _writer_loop(self, conn: sqlite3.Connection) -> None:
        if self.pattern != "per-call":
            super()._writer_loop(conn)
            return
        while True:  # SqliteStore._writer_loop, but one job per transaction
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if not self._jobs and self._closing:
                    break
                job = self._jobs.pop(0)
            self._commit(conn, self._state, [job])
            store_mod._resolve([job])

    def _commit(self, conn: sqlite3.Connection, state: Any, jobs: list[Any]) -> None:
        self.commits += 1
        super()._commit(conn, state, jobs)


def make_batches(batch: int, count: int, seed: int) -> list[list[NewRecord]]:
    rng = random.Random(seed)
    return [
        [
            NewRecord(
                rng.randrange(1, SHARDS + 1),
                f"{rng.getrandbits(64):016x}",
                rng.randbytes(RECORD_SIZE),
            )
            for _ in range(batch)
        ]
        for _ in range(count)
    ]


@dataclass(frozen=True)
class StoreRun:
    pattern: str
    durability: str
    writers: int
    batch: int
    records_s: float
    commits_s: float
    p50_ms: float


async def _drive(
    store: SqliteStore, writers: int, batches: list[list[NewRecord]], seconds: float
) -> tuple[int, list[float]]:
    deadline = time.perf_counter() + seconds
    lat: list[float] = []
    done = 0

    async def writer(i: int) -> None:
        nonlocal done
        n = i
        while time.perf_counter() < deadline:
            records = batches[n % len(batches)]
            n += writers
            t = time.perf_counter()
            await store.append(records)
            lat.append((time.perf_counter() - t) * 1000.0)
            done += len(records)

    await asyncio.gather(*(writer(i) for i in range(writers)))
    return done, lat


async def store_run(
    pattern: str, durability: str, writers: int, batch: int, seconds: float
) -> StoreRun:
    batches = make_batches(batch, max(64, writers) if batch > 1 else 1024, seed=writers)
    tmp = Path(tempfile.mkdtemp(prefix="sf-sqlite-", dir="/var/tmp"))
    store = PatternStore(tmp, durability, pattern)
    store.open()
    try:
        await _drive(store, writers, batches, min(0.3, seconds / 4))  # warm-up
        commits0 = store.commits
        t0 = time.perf_counter()
        done, lat = await _drive(store, writers, batches, seconds)
        elapsed = time.perf_counter() - t0
        commits = store.commits - commits0
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return StoreRun(
        pattern,
        durability,
        writers,
        batch,
        done / elapsed,
        commits / elapsed,
        statistics.median(lat),
    )


PATTERNS = ("inline", "thread", "per-call")
DURABILITIES = ("process", "fsync", "memory")


def part_store(rounds: int, seconds: float) -> list[str]:
    configs = [
        (pattern, dur, writers, batch)
        for batch in (1, 500)
        for writers in (1, 16, 64)
        for dur in DURABILITIES
        for pattern in PATTERNS
    ]
    runs: dict[tuple[str, str, int, int], list[StoreRun]] = {c: [] for c in configs}
    for r in range(rounds):
        for c in configs:
            run = uvloop.run(store_run(*c, seconds))
            runs[c].append(run)
            log(
                f"store round {r + 1} {c}: {run.records_s:.0f} rec/s, "
                f"{run.commits_s:.0f} commits/s, p50 {run.p50_ms:.2f} ms"
            )
    med = {
        c: (
            statistics.median(x.records_s for x in v),
            statistics.median(x.commits_s for x in v),
            statistics.median(x.p50_ms for x in v),
        )
        for c, v in runs.items()
    }
    lines = [
        "| batch | writers | synchronous | inline rec/s | rec/commit | p50 ms | thread rec/s "
        "| rec/commit | p50 ms | per-call rec/s | p50 ms | thread / inline | thread / per-call |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for batch in (1, 500):
        for writers in (1, 16, 64):
            for dur in DURABILITIES:
                i, t, p = (med[(pat, dur, writers, batch)] for pat in PATTERNS)
                lines.append(
                    f"| {batch} | {writers} | {SYNC_BY_DURABILITY[dur]} "
                    f"| {i[0]:,.0f} | {i[0] / i[1]:,.0f} | {i[2]:.2f} "
                    f"| {t[0]:,.0f} | {t[0] / t[1]:,.0f} | {t[2]:.2f} "
                    f"| {p[0]:,.0f} | {p[2]:.2f} | {t[0] / i[0]:.2f} | {t[0] / p[0]:.2f} |"
                )
    return lines


# ----------------------------------------------------------------------------- part 2: the key


@dataclass(frozen=True)
class Schema:
    name: str
    ddl: str
    insert: str
    row: Callable[[int, int, int, str, bytes], tuple[Any, ...]]
    read: str
    read_args: Callable[[int, int, int], tuple[Any, ...]]


BITS = store_mod.POSITION_BITS
SCHEMAS = (
    Schema(
        "packed",
        "CREATE TABLE records (id INTEGER PRIMARY KEY, arrival_ms INTEGER NOT NULL,"
        " partition_key TEXT NOT NULL, data BLOB NOT NULL)",
        "INSERT INTO records VALUES (?, ?, ?, ?)",
        lambda shard, pos, ms, key, data: (shard << BITS | pos, ms, key, data),
        "SELECT id, arrival_ms, partition_key, data FROM records"
        " WHERE id BETWEEN ? AND ? ORDER BY id LIMIT ?",
        lambda shard, pos, limit: (shard << BITS | pos, (shard + 1) << BITS, limit),
    ),
    Schema(
        "without-rowid",
        "CREATE TABLE records (shard INTEGER NOT NULL, position INTEGER NOT NULL,"
        " arrival_ms INTEGER NOT NULL, partition_key TEXT NOT NULL, data BLOB NOT NULL,"
        " PRIMARY KEY (shard, position)) WITHOUT ROWID",
        "INSERT INTO records VALUES (?, ?, ?, ?, ?)",
        lambda shard, pos, ms, key, data: (shard, pos, ms, key, data),
        "SELECT position, arrival_ms, partition_key, data FROM records"
        " WHERE shard = ? AND position >= ? ORDER BY position LIMIT ?",
        lambda shard, pos, limit: (shard, pos, limit),
    ),
    Schema(
        "rowid+index",
        "CREATE TABLE records (id INTEGER PRIMARY KEY, shard INTEGER NOT NULL,"
        " position INTEGER NOT NULL, arrival_ms INTEGER NOT NULL, partition_key TEXT NOT NULL,"
        " data BLOB NOT NULL); CREATE INDEX records_by_shard ON records (shard, position)",
        "INSERT INTO records (shard, position, arrival_ms, partition_key, data)"
        " VALUES (?, ?, ?, ?, ?)",
        lambda shard, pos, ms, key, data: (shard, pos, ms, key, data),
        "SELECT position, arrival_ms, partition_key, data FROM records"
        " WHERE shard = ? AND position >= ? ORDER BY position LIMIT ?",
        lambda shard, pos, limit: (shard, pos, limit),
    ),
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "wal_autocheckpoint=4000",
        "temp_store=MEMORY",
        "cache_size=-16000",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def rows(total: int, batch: int, seed: int) -> Iterator[list[tuple[int, int, int, str, bytes]]]:
    """Batches of (shard, position, arrival_ms, key, data); positions from one counter."""
    rng = random.Random(seed)
    blobs = [rng.randbytes(RECORD_SIZE) for _ in range(256)]
    position = 0
    for start in range(0, total, batch):
        out = []
        ms = 1_700_000_000_000 + start
        for i in range(min(batch, total - start)):
            position += 1
            out.append(
                (
                    rng.randrange(SHARDS),
                    position,
                    ms,
                    f"{rng.getrandbits(64):016x}",
                    blobs[(start + i) % 256],
                )
            )
        yield out


@dataclass(frozen=True)
class SchemaRun:
    name: str
    write_rec_s: float
    read_cold_ms: float
    read_warm_ms: float
    file_mib: float


def schema_run(schema: Schema, total: int, read_count: int) -> SchemaRun:
    tmp = Path(tempfile.mkdtemp(prefix="sf-schema-", dir="/var/tmp"))
    path = tmp / "db.sqlite3"
    try:
        conn = connect(path)
        conn.executescript(schema.ddl)
        batches = [[schema.row(*r) for r in b] for b in rows(total, 500, seed=7)]
        t0 = time.perf_counter()
        for b in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(schema.insert, b)
            conn.execute("COMMIT")
        write_s = time.perf_counter() - t0
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shard = 2
        # Start a quarter into the shard (positions are global, so about total / 4).
        args = schema.read_args(shard, total // 4, read_count)
        cold, warm = [], []
        for _ in range(3):
            reader = connect(path)
            t = time.perf_counter()
            got = reader.execute(schema.read, args).fetchall()
            cold.append((time.perf_counter() - t) * 1000.0)
            t = time.perf_counter()
            reader.execute(schema.read, args).fetchall()
            warm.append((time.perf_counter() - t) * 1000.0)
            reader.close()
            if len(got) != read_count:
                raise RuntimeError(f"{schema.name}: read {len(got)} records, not {read_count}")
        size = sum(p.stat().st_size for p in tmp.iterdir()) / 2**20
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SchemaRun(
        schema.name, total / write_s, statistics.median(cold), statistics.median(warm), size
    )


def part_schema(rounds: int, total: int, read_count: int) -> list[str]:
    runs: dict[str, list[SchemaRun]] = {s.name: [] for s in SCHEMAS}
    for r in range(rounds):
        for schema in SCHEMAS:
            run = schema_run(schema, total, read_count)
            runs[schema.name].append(run)
            log(f"schema round {r + 1} {run}")
    med = {
        name: SchemaRun(
            name,
            statistics.median(x.write_rec_s for x in v),
            statistics.median(x.read_cold_ms for x in v),
            statistics.median(x.read_warm_ms for x in v),
            statistics.median(x.file_mib for x in v),
        )
        for name, v in runs.items()
    }
    base = med["packed"]
    lines = [
        f"| key | write rec/s | read {read_count:,} cold ms | warm ms | rec/s (warm) | file MiB "
        "| write / packed | cold read / packed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in med.values():
        lines.append(
            f"| {m.name} | {m.write_rec_s:,.0f} | {m.read_cold_ms:.1f} | {m.read_warm_ms:.1f} | "
            f"{read_count / m.read_warm_ms * 1000:,.0f} | {m.file_mib:.0f} | "
            f"{m.write_rec_s / base.write_rec_s:.2f} | {m.read_cold_ms / base.read_cold_ms:.2f} |"
        )
    return lines


# ----------------------------------------------------------------------------- main


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("store", "schema", "both"), default="both")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=1.0, help="per store configuration")
    p.add_argument("--records", type=int, default=100_000, help="records per schema run")
    p.add_argument("--read", type=int, default=10_000, help="records per range read")
    args = p.parse_args()
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}\n")
    if args.part in ("store", "both"):
        print("\n".join(part_store(args.rounds, args.seconds)) + "\n")
    if args.part in ("schema", "both"):
        print("\n".join(part_schema(args.rounds, args.records, args.read)))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
