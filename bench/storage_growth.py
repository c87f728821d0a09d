"""Storage growth: shardflow's memory and disk while one stream grows to gigabytes.

Phase 1 (``grow``): start ``shardflow serve --durability process`` in a fresh data dir, create a
4-shard stream and write ``--gigabytes`` of 1 KiB records (500 per PutRecords request, pre-encoded,
on ``--connections`` keep-alive connections) while one reader drains all four shards with
GetRecords (``--limit``) and keeps up. Every 0.5 s the server's VmRSS and the sizes of the
database, its -wal and its -shm are sampled; progress is shown on one updating line.

Phase 2 (``reuse``): delete the stream, create another, write ``--reuse-gigabytes`` more and show
whether the database file reused the freed pages (``page_count`` / ``freelist_count`` read from
the database through a read-only sqlite3 connection) and what happened to the WAL.

``--mode`` picks what runs in phase 1, for finding where memory goes: ``both`` (writes and a
concurrent reader), ``write`` (no reader), ``read`` (fill without reader, restart the server on
the same data dir, then only read, so VmHWM covers the reads alone). ``--server-env`` passes
environment variables to the server (e.g. ``MALLOC_ARENA_MAX=2``).

    .venv/bin/python bench/storage_growth.py                 # 2 GB, about 1-2 minutes
    .venv/bin/python bench/storage_growth.py --quick         # 0.05 GB: a smoke test
    .venv/bin/python bench/storage_growth.py --mode read --limit 1000 --skip-reuse

Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

import procstats
import rawhttp
import targets

DB_FILENAME = "shardflow.sqlite3"  # shardflow.storage.sqlite.DB_FILENAME
MIB = 1024 * 1024
RSS_TARGET_MIB = 200e6 / MIB  # the target is 200 MB (10^6 bytes): 190.7 MiB
SAMPLE_INTERVAL_S = 0.5
RECORDS_PER_REQUEST = 500
DISTINCT_BODIES = 16  # ~11 MB of pre-encoded requests, cycled
GB = 1e9  # "GB written" is record payload in 10^9 bytes


@dataclass
class Options:
    gigabytes: float
    reuse_gigabytes: float
    record_size: int
    shards: int
    connections: int
    limit: int
    mode: str
    skip_reuse: bool
    keep: bool
    python: str
    server_env: dict[str, str]
    json_path: Path | None


@dataclass
class Sample:
    t: float  # seconds since the start of the run
    phase: str
    rss_mib: float
    hwm_mib: float
    anon_mib: float  # RssAnon: heap (Python objects, SQLite page caches, buffers)
    file_mib: float  # RssFile: mapped files (SQLite memory-maps the database if mmap_size > 0)
    db_mib: float
    wal_mib: float
    shm_mib: float
    wal_frames: int
    wal_backfilled: int
    written: int
    read: int


@dataclass
class DbStats:
    """What a read-only sqlite3 connection sees, plus the files' apparent sizes."""

    page_size: int = 0
    page_count: int = 0
    freelist_count: int = 0
    db_bytes: int = 0
    wal_bytes: int = 0
    shm_bytes: int = 0
    wal_frames: int = 0  # mxFrame: frames in the current WAL generation
    wal_backfilled: int = 0  # nBackfill: frames the checkpointer copied into the database

    @property
    def used_bytes(self) -> int:
        return (self.page_count - self.freelist_count) * self.page_size

    def line(self) -> str:
        return (
            f"db {self.db_bytes / MIB:7.1f} MiB ({self.page_count} pages, free"
            f" {self.freelist_count} = {self.freelist_count * self.page_size / MIB:.1f} MiB)"
            f"  wal {self.wal_bytes / MIB:7.1f} MiB ({self.wal_frames} frames,"
            f" {self.wal_backfilled} checkpointed)"
        )


@dataclass
class Counters:
    """Shared between the writer, the reader and the sampler."""

    written: int = 0  # records acknowledged
    failed: int = 0
    non_200: int = 0
    read: int = 0
    read_calls: int = 0
    read_errors: int = 0
    first_error: str = ""

    def error(self, text: str) -> None:
        self.first_error = self.first_error or text


@dataclass
class Report:
    options: dict[str, Any]
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)


# ----------------------------------------------------------------------------- server


@dataclass
class Server:
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def db(self) -> Path:
        return self.data_dir / DB_FILENAME


def start_server(opts: Options, data_dir: Path, timeout_s: float = 30.0) -> Server:
    """``shardflow serve`` on ``data_dir`` (new or existing); waits for GET /healthz == 200."""
    port = targets.free_port_pair()
    cmd = targets.shardflow_command(port, data_dir, opts.python, "")
    env = dict(os.environ)
    src = str(targets.SRC_DIR)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.update(opts.server_env)
    log_path = data_dir.with_name(data_dir.name + ".log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = Server(port, data_dir, proc, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shardflow exited: {targets.log_tail(log_path)}")
        with contextlib.suppress(OSError):
            url = f"http://{targets.HOST}:{port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return server
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError("shardflow did not answer /healthz in time")


def stop_server(server: Server) -> None:
    targets._stop_popen(server.proc)


# ----------------------------------------------------------------------------- measurements


def file_sizes(db: Path) -> tuple[int, int, int]:
    """Apparent sizes of the database, its -wal and its -shm (0 if missing)."""
    out = []
    for suffix in ("", "-wal", "-shm"):
        try:
            out.append(os.stat(f"{db}{suffix}").st_size)
        except OSError:
            out.append(0)
    return out[0], out[1], out[2]


def wal_index(db: Path) -> tuple[int, int, int, tuple[int, ...]]:
    """(mxFrame, nBackfill, nBackfillAttempted, aReadMark[0..4]) from the -shm wal-index header.

    The -shm file is the shared memory of every connection (memory-mapped), so reading it shows
    how far the checkpointer got (nBackfill) against the last committed frame (mxFrame), and
    which snapshots readers hold (read marks); layout from SQLite's wal.c, native byte order.
    """
    try:
        with open(f"{db}-shm", "rb") as f:
            head = f.read(136)
    except OSError:
        return 0, 0, 0, ()
    if len(head) < 136:
        return 0, 0, 0, ()
    mx_frame = int.from_bytes(head[16:20], sys.byteorder)
    backfill = int.from_bytes(head[96:100], sys.byteorder)
    marks = tuple(int.from_bytes(head[i : i + 4], sys.byteorder) for i in range(100, 120, 4))
    attempted = int.from_bytes(head[128:132], sys.byteorder)
    return mx_frame, backfill, attempted, marks


def db_stats(db: Path) -> DbStats:
    """page_count and freelist_count as of the last commit (WAL included), read-only."""
    stats = DbStats()
    stats.db_bytes, stats.wal_bytes, stats.shm_bytes = file_sizes(db)
    stats.wal_frames, stats.wal_backfilled = wal_index(db)[:2]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, timeout=10)
    try:
        stats.page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        stats.page_count = int(conn.execute("PRAGMA page_count").fetchone()[0])
        stats.freelist_count = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        conn.close()
    return stats


def status_kib(pid: int, key: str) -> int:
    return procstats._status_kib(pid, key)


def take_sample(server: Server, t0: float, phase: str, counters: Counters) -> Sample:
    db, wal, shm = file_sizes(server.db)
    frames, backfilled, _, _ = wal_index(server.db)
    return Sample(
        t=round(time.perf_counter() - t0, 2),
        phase=phase,
        rss_mib=procstats.tree_rss_kib(server.pid) / 1024,
        hwm_mib=procstats.tree_peak_rss_kib(server.pid) / 1024,
        anon_mib=status_kib(server.pid, "RssAnon") / 1024,
        file_mib=status_kib(server.pid, "RssFile") / 1024,
        db_mib=db / MIB,
        wal_mib=wal / MIB,
        shm_mib=shm / MIB,
        wal_frames=frames,
        wal_backfilled=backfilled,
        written=counters.written,
        read=counters.read,
    )


async def sample_forever(
    server: Server,
    t0: float,
    phase: str,
    counters: Counters,
    samples: list[Sample],
    record_size: int,
    show: bool = True,
) -> None:
    """Sample every SAMPLE_INTERVAL_S and redraw the progress line, until cancelled."""
    last_t, last_n = time.perf_counter(), counters.written + counters.read
    while True:
        await asyncio.sleep(SAMPLE_INTERVAL_S)
        s = take_sample(server, t0, phase, counters)
        samples.append(s)
        now, n = time.perf_counter(), counters.written + counters.read
        rate = (n - last_n) / max(now - last_t, 1e-9)
        last_t, last_n = now, n
        if show:
            lag = max(0, s.written - s.read)
            status(
                f"[{phase}] {s.written * record_size / GB:5.2f} GB written, read"
                f" {s.read * record_size / GB:5.2f} (lag {lag / 1000:6.1f}k),"
                f" {rate / 1000:5.1f}k rec/s | RSS {s.rss_mib:6.1f} MiB"
                f" (peak {s.hwm_mib:6.1f}) | db {s.db_mib:7.1f} wal {s.wal_mib:7.1f} MiB"
            )


def status(text: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K" + text[:160])
        sys.stderr.flush()


def end_status() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()


# ----------------------------------------------------------------------------- traffic


async def control(conn: rawhttp.HttpConnection, op: str, payload: dict[str, object]) -> Any:
    status_code, body = await conn.call(op, payload)
    if status_code != 200:
        raise RuntimeError(f"{op} HTTP {status_code}: {body}")
    return body


async def create_stream(conn: rawhttp.HttpConnection, name: str, shards: int) -> list[str]:
    await control(conn, "CreateStream", {"StreamName": name, "ShardCount": shards})
    for _ in range(200):
        desc = await control(conn, "DescribeStream", {"StreamName": name})
        info = desc["StreamDescription"]
        if info["StreamStatus"] == "ACTIVE":
            return [s["ShardId"] for s in info["Shards"]]
        await asyncio.sleep(0.05)
    raise RuntimeError(f"stream {name} did not become ACTIVE")


async def write(
    port: int,
    stream: str,
    records: int,
    opts: Options,
    counters: Counters,
) -> float:
    """Write ``records`` records (rounded up to whole requests); returns the elapsed seconds."""
    host = f"{targets.HOST}:{port}"
    bodies = rawhttp.put_records_bodies(
        stream, DISTINCT_BODIES, RECORDS_PER_REQUEST, opts.record_size, seed=len(stream)
    )
    raw = [rawhttp.encode_request(host, "PutRecords", b) for b in bodies]
    total = -(-records // RECORDS_PER_REQUEST)
    state = {"next": 0}

    async def worker() -> None:
        conn = rawhttp.HttpConnection(targets.HOST, port)
        try:
            while state["next"] < total:
                req = raw[state["next"] % len(raw)]
                state["next"] += 1
                try:
                    resp = await conn.request(req)
                except (OSError, asyncio.IncompleteReadError, rawhttp.HttpError) as exc:
                    counters.error(f"PutRecords {type(exc).__name__}: {exc}")
                    counters.failed += RECORDS_PER_REQUEST
                    await asyncio.sleep(0.05)
                    continue
                if resp.status != 200:
                    counters.non_200 += 1
                    counters.failed += RECORDS_PER_REQUEST
                    counters.error(f"PutRecords HTTP {resp.status}: {resp.body[:200]!r}")
                    continue
                failed = _failed_record_count(resp.body)
                counters.failed += failed
                counters.written += RECORDS_PER_REQUEST - failed
        finally:
            conn.close()

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(opts.connections)))
    return time.perf_counter() - t


def _failed_record_count(body: bytes) -> int:
    """``FailedRecordCount`` without decoding the 500 entries (it comes first in the body)."""
    key = b'"FailedRecordCount":'
    at = body.find(key)
    if at < 0:
        return RECORDS_PER_REQUEST
    end = at + len(key)
    digits = body[end : end + 12].split(b",")[0].split(b"}")[0]
    return int(digits)


async def read_all(
    port: int,
    stream: str,
    shard_ids: list[str],
    limit: int,
    counters: Counters,
    writing_done: asyncio.Event,
) -> None:
    """Tail every shard; return once writing is done and every shard returned no records.

    Responses are not decoded: records are counted by their ``"SequenceNumber"`` keys and the
    next iterator is cut out of the body, which keeps the client's CPU small.
    """

    async def one(shard_id: str) -> None:
        conn = rawhttp.HttpConnection(targets.HOST, port)
        try:
            body = await control(
                conn,
                "GetShardIterator",
                {"StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"},
            )
            iterator = body["ShardIterator"]
            host = f"{targets.HOST}:{port}"
            while iterator:
                done_before = writing_done.is_set()
                payload = orjson.dumps({"ShardIterator": iterator, "Limit": limit})
                resp = await conn.request(rawhttp.encode_request(host, "GetRecords", payload))
                counters.read_calls += 1
                if resp.status != 200:
                    counters.read_errors += 1
                    counters.error(f"GetRecords HTTP {resp.status}: {resp.body[:200]!r}")
                    await asyncio.sleep(0.1)
                    continue
                got = resp.body.count(b'"SequenceNumber":')
                counters.read += got
                iterator = _next_iterator(resp.body)
                if got == 0:
                    if done_before:
                        return
                    await asyncio.sleep(0.1)
        finally:
            conn.close()

    await asyncio.gather(*(one(s) for s in shard_ids))


def _next_iterator(body: bytes) -> str | None:
    key = b'"NextShardIterator":"'
    at = body.rfind(key)
    if at < 0:
        return None
    start = at + len(key)
    return body[start : body.index(b'"', start)].decode("ascii")


# ----------------------------------------------------------------------------- phases


class Run:
    """One benchmark run: the server, counters, samples, and the phases in order."""

    def __init__(self, opts: Options, data_dir: Path) -> None:
        self.opts = opts
        self.data_dir = data_dir
        self.report = Report(options={k: str(v) for k, v in asdict(opts).items()})
        self.t0 = time.perf_counter()
        self.server = start_server(opts, data_dir)

    def restart(self) -> None:
        stop_server(self.server)
        self.server = start_server(self.opts, self.data_dir)

    async def sampled(self, phase: str, counters: Counters, work: Callable[[], Any]) -> Any:
        """Run ``await work()`` while sampling; returns its result."""
        sampler = asyncio.create_task(
            sample_forever(
                self.server,
                self.t0,
                phase,
                counters,
                self.report.samples,
                self.opts.record_size,
            )
        )
        try:
            return await work()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            end_status()

    async def settle(self, phase: str, seconds: float = 3.0) -> None:
        """Let the checkpointer catch up with no traffic, sampling meanwhile."""
        await self.sampled(phase + "/idle", Counters(), lambda: asyncio.sleep(seconds))

    async def grow(self, conn: rawhttp.HttpConnection) -> None:
        opts = self.opts
        records = int(opts.gigabytes * GB / opts.record_size)
        shard_ids = await create_stream(conn, "growth-1", opts.shards)
        counters = Counters()
        port = self.server.port
        writing_done = asyncio.Event()
        phase = "grow"
        rss0 = procstats.tree_rss_kib(self.server.pid) / 1024

        async def writes() -> float:
            try:
                return await write(port, "growth-1", records, opts, counters)
            finally:
                writing_done.set()

        async def both() -> tuple[float, float, float]:
            t = time.perf_counter()
            reader = asyncio.create_task(
                read_all(port, "growth-1", shard_ids, opts.limit, counters, writing_done)
            )
            write_s = await writes()
            t_done = time.perf_counter()
            await reader
            return write_s, time.perf_counter() - t, time.perf_counter() - t_done

        if opts.mode == "both":
            write_s, read_s, tail_s = await self.sampled(phase, counters, both)
        else:
            write_s = await self.sampled(phase, counters, writes)
            read_s = tail_s = 0.0
        if opts.mode == "read":
            await self.settle(phase)
            self.restart()
            await asyncio.sleep(1.0)
            rss0 = procstats.tree_rss_kib(self.server.pid) / 1024
            writing_done.set()
            phase = "read"
            port_now = self.server.port

            async def reads() -> float:
                t = time.perf_counter()
                await read_all(port_now, "growth-1", shard_ids, opts.limit, counters, writing_done)
                return time.perf_counter() - t

            read_s = await self.sampled(phase, counters, reads)
        hwm = procstats.tree_peak_rss_kib(self.server.pid) / 1024
        rss_end = procstats.tree_rss_kib(self.server.pid) / 1024
        wal_peak = max((s.wal_mib for s in self.report.samples), default=0.0)
        await self.settle("grow")
        after = db_stats(self.server.db)
        data_bytes = counters.written * opts.record_size
        result = {
            "mode": opts.mode,
            "limit": opts.limit,
            "records_written": counters.written,
            "records_failed": counters.failed,
            "non_200": counters.non_200,
            "records_read": counters.read,
            "read_calls": counters.read_calls,
            "read_errors": counters.read_errors,
            "first_error": counters.first_error,
            "write_s": write_s,
            "write_rec_per_s": counters.written / write_s if write_s else None,
            "write_mb_per_s": data_bytes / 1e6 / write_s if write_s else None,
            "read_s": read_s,
            "read_rec_per_s": counters.read / read_s if read_s else None,
            "reader_tail_s": tail_s,
            "rss_start_mib": rss0,
            "rss_end_mib": rss_end,
            "peak_rss_mib": hwm,
            "target_held": hwm < RSS_TARGET_MIB,
            "wal_peak_mib": wal_peak,
            "db": asdict(after),
            "db_bytes_per_record": after.used_bytes / counters.written if counters.written else 0,
        }
        self.report.phases["grow"] = result
        print_grow(result, after, opts)
        self.shard_ids = shard_ids

    async def reuse(self, conn: rawhttp.HttpConnection) -> None:
        opts = self.opts
        before = db_stats(self.server.db)
        hwm_before = procstats.tree_peak_rss_kib(self.server.pid) / 1024
        t = time.perf_counter()
        await self.sampled(
            "delete",
            Counters(),
            lambda: control(conn, "DeleteStream", {"StreamName": "growth-1"}),
        )
        delete_s = time.perf_counter() - t
        for _ in range(600):  # shardflow purges at once with the default 0 ms delete delay
            listed = await control(conn, "ListStreams", {})
            if "growth-1" not in listed.get("StreamNames", []):
                break
            await asyncio.sleep(0.05)
        hwm_deleted = procstats.tree_peak_rss_kib(self.server.pid) / 1024
        await self.settle("delete", 2.0)
        deleted = db_stats(self.server.db)
        await create_stream(conn, "growth-2", opts.shards)
        counters = Counters()
        records = int(opts.reuse_gigabytes * GB / opts.record_size)
        port = self.server.port
        write_s = await self.sampled(
            "reuse", counters, lambda: write(port, "growth-2", records, opts, counters)
        )
        immediately = db_stats(self.server.db)
        await self.settle("reuse", 3.0)
        after = db_stats(self.server.db)
        result = {
            "delete_call_s": delete_s,
            "peak_rss_before_delete_mib": hwm_before,
            "peak_rss_after_delete_mib": hwm_deleted,
            "before_delete": asdict(before),
            "after_delete": asdict(deleted),
            "after_write": asdict(immediately),
            "after_write_idle": asdict(after),
            "records_written": counters.written,
            "write_rec_per_s": counters.written / write_s if write_s else None,
            "db_grew_bytes": after.db_bytes - deleted.db_bytes,
            "freelist_pages_reused": deleted.freelist_count - after.freelist_count,
            "wal_peak_mib": max(
                (s.wal_mib for s in self.report.samples if s.phase == "reuse"), default=0.0
            ),
            "peak_rss_mib": procstats.tree_peak_rss_kib(self.server.pid) / 1024,
        }
        self.report.phases["reuse"] = result
        print_reuse(result, before, deleted, immediately, after, opts)

    async def run(self) -> None:
        conn = rawhttp.HttpConnection(targets.HOST, self.server.port)
        try:
            await self.grow(conn)
        finally:
            conn.close()
        if not self.opts.skip_reuse:
            conn = rawhttp.HttpConnection(targets.HOST, self.server.port)
            try:
                await self.reuse(conn)
            finally:
                conn.close()
        print_timeline(self.report.samples, self.opts.record_size)
        print(f"\nserver peak RSS (VmHWM) over the run: {max_hwm(self.report):.1f} MiB")

    def close(self) -> None:
        stop_server(self.server)


def max_hwm(report: Report) -> float:
    return max((s.hwm_mib for s in report.samples), default=0.0)


# ----------------------------------------------------------------------------- output


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def print_grow(r: dict[str, Any], after: DbStats, opts: Options) -> None:
    gb = r["records_written"] * opts.record_size / GB
    print(
        f"\n== grow ({r['mode']}, GetRecords Limit {r['limit']}): {gb:.2f} GB,"
        f" {r['records_written']:,} records written ({r['records_failed']:,} failed,"
        f" {r['non_200']} non-200), {r['records_read']:,} read"
    )
    print(
        f"  write {_fmt(r['write_rec_per_s'])} rec/s ({_fmt(r['write_mb_per_s'], '.1f')} MB/s)"
        f" in {r['write_s']:.1f} s; read {_fmt(r['read_rec_per_s'])} rec/s over"
        f" {r['read_s']:.1f} s, reader finished {r['reader_tail_s']:.1f} s after the last write"
        f" ({r['read_calls']:,} GetRecords calls)"
    )
    verdict = "HELD" if r["target_held"] else "MISSED"
    print(
        f"  server RSS: {r['rss_start_mib']:.1f} MiB at start, {r['rss_end_mib']:.1f} at end,"
        f" peak (VmHWM) {r['peak_rss_mib']:.1f} MiB -> 200 MB ({RSS_TARGET_MIB:.1f} MiB) target"
        f" {verdict}"
    )
    print(f"  after 3 s idle: {after.line()}")
    print(
        f"  WAL peak {r['wal_peak_mib']:.1f} MiB; live pages per record"
        f" {r['db_bytes_per_record']:.0f} bytes for {opts.record_size}-byte records"
    )
    if r["first_error"]:
        print(f"  first error: {r['first_error']}")


def print_reuse(
    r: dict[str, Any],
    before: DbStats,
    deleted: DbStats,
    written: DbStats,
    idle: DbStats,
    opts: Options,
) -> None:
    gb = r["records_written"] * opts.record_size / GB
    print(f"\n== reuse: DeleteStream took {r['delete_call_s']:.2f} s, then {gb:.2f} GB written")
    print(
        f"  server peak RSS (VmHWM) {r['peak_rss_before_delete_mib']:.1f} MiB before the delete,"
        f" {r['peak_rss_after_delete_mib']:.1f} MiB after it, {r['peak_rss_mib']:.1f} at the end"
    )
    print(f"  before delete:        {before.line()}")
    print(f"  after delete + 2 s:   {deleted.line()}")
    print(f"  right after writing:  {written.line()}")
    print(f"  after 3 s idle:       {idle.line()}")
    grew = r["db_grew_bytes"] / MIB
    print(
        f"  database file grew {grew:.1f} MiB while {r['freelist_pages_reused']:,} free pages"
        f" ({r['freelist_pages_reused'] * idle.page_size / MIB:.1f} MiB) were reused;"
        f" WAL peak during the writes {r['wal_peak_mib']:.1f} MiB"
    )
    reused = r["freelist_pages_reused"] > 0 and grew < 1.0
    print(f"  freed pages reused: {'yes' if reused else 'NO'}")


def print_timeline(samples: list[Sample], record_size: int, rows: int = 24) -> None:
    if not samples:
        return
    step = max(1, len(samples) // rows)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    print(
        "\n   t s  phase        GB wr   GB rd  RSS MiB  HWM MiB   anon   file   db MiB  wal MiB"
        "  WAL frames  checkpointed"
    )
    for s in picked:
        print(
            f"{s.t:6.1f}  {s.phase:<11} {s.written * record_size / GB:6.2f}"
            f"  {s.read * record_size / GB:6.2f}  {s.rss_mib:7.1f}  {s.hwm_mib:7.1f}"
            f"  {s.anon_mib:5.0f}  {s.file_mib:5.0f}"
            f"  {s.db_mib:7.1f}  {s.wal_mib:7.1f}  {s.wal_frames:10d}  {s.wal_backfilled:12d}"
        )


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gigabytes", type=float, default=2.0, help="phase 1 payload (10^9 bytes)")
    p.add_argument("--reuse-gigabytes", type=float, default=0.5, help="phase 2 payload")
    p.add_argument("--quick", action="store_true", help="0.05 GB, then 0.01 GB (a smoke test)")
    p.add_argument("--record-size", type=int, default=1024)
    p.add_argument("--shards", type=int, default=4)
    p.add_argument("--connections", type=int, default=4, help="PutRecords connections")
    p.add_argument("--limit", type=int, default=10_000, help="GetRecords Limit")
    p.add_argument("--mode", choices=("both", "write", "read"), default="both")
    p.add_argument("--skip-reuse", action="store_true", help="phase 1 only")
    p.add_argument("--keep", action="store_true", help="keep the data dir and log")
    p.add_argument("--python", default=sys.executable, help="Python that runs shardflow")
    p.add_argument(
        "--server-env", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    p.add_argument("--json", type=Path, help="write the phases and all samples here")
    a = p.parse_args(argv)
    if a.quick:
        a.gigabytes, a.reuse_gigabytes = 0.05, 0.01
    env = dict(item.split("=", 1) for item in a.server_env)
    return Options(
        gigabytes=a.gigabytes,
        reuse_gigabytes=a.reuse_gigabytes,
        record_size=a.record_size,
        shards=a.shards,
        connections=a.connections,
        limit=a.limit,
        mode=a.mode,
        skip_reuse=a.skip_reuse,
        keep=a.keep,
        python=a.python,
        server_env=env,
        json_path=a.json,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    data_dir = Path(tempfile.mkdtemp(prefix="shardflow-growth-"))
    run: Run | None = None
    try:
        run = Run(opts, data_dir)
        print(f"shardflow pid {run.server.pid} on port {run.server.port}, data dir {data_dir}")
        asyncio.run(run.run())
    finally:
        if run is not None:
            run.close()
        if opts.json_path is not None and run is not None:
            opts.json_path.write_bytes(orjson.dumps(asdict(run.report), option=orjson.OPT_INDENT_2))
        log_path = data_dir.with_name(data_dir.name + ".log")
        if opts.keep:
            print(f"kept {data_dir} and {log_path}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
            log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
