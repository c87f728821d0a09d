"""Fill a data directory with self-checking records, damage it, start a server on it, read back.

Every payload carries its own digest (``PAYLOAD_MARK``, a counter, then 8 hex digits of the
SHA-256 of the rest), so a reader can tell a whole payload from a damaged one without trusting
the server. The damage helpers work on the files, as a bad disk, a stray edit or a crash would.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.support import ServerProcess, free_port

STREAM = "integrity"
SHARDS = 2
PAYLOAD_MARK = b"SFPAYLOAD"
DB = "shardflow.sqlite3"
PAGE = 4096


def payload(i: int, size: int = 200) -> bytes:
    body = b"%s%07d-" % (PAYLOAD_MARK, i) + bytes((i * 7 + j) % 251 for j in range(size))
    return body + hashlib.sha256(body).hexdigest()[:8].encode()


def whole(data: bytes) -> bool:
    body, digest = data[:-8], data[-8:]
    return hashlib.sha256(body).hexdigest()[:8].encode() == digest


@dataclass
class Filled:
    data_dir: Path
    acked: dict[str, list[bytes]]  # shard id -> payloads acknowledged, in order


def fill(data_dir: Path, records: int = 400, *args: str) -> Filled:
    """A data directory with ``records`` acknowledged records in ``SHARDS`` shards, stopped
    cleanly (so the WAL is checkpointed into the database file)."""
    with ServerProcess(data_dir, *args) as server:
        client = make_client(server.endpoint)
        client.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        acked = write(client, 0, records)
    return Filled(data_dir, acked)


def write(  # type: ignore[no-untyped-def]
    client, start: int, count: int, sequences: list[str] | None = None
) -> dict[str, list[bytes]]:
    """Write records ``start`` .. ``start + count - 1``; their payloads per shard, in order
    (and their sequence numbers appended to ``sequences``)."""
    acked: dict[str, list[bytes]] = {}
    for first in range(start, start + count, 100):
        batch = [payload(i) for i in range(first, min(first + 100, start + count))]
        out = client.put_records(
            StreamName=STREAM,
            Records=[{"Data": d, "PartitionKey": d[9:16].decode()} for d in batch],
        )
        assert out.get("FailedRecordCount", 0) == 0
        for result, data in zip(out["Records"], batch, strict=True):
            acked.setdefault(result["ShardId"], []).append(data)
            if sequences is not None:
                sequences.append(result["SequenceNumber"])
    return acked


@dataclass
class ReadBack:
    served: dict[str, list[bytes]]  # shard id -> payloads served
    errors: dict[str, ClientError]  # shard id -> the error that stopped its read


def read_all(endpoint: str) -> ReadBack:
    """Every shard from TRIM_HORIZON until it is drained or a read fails."""
    client = make_client(endpoint)
    back = ReadBack({}, {})
    for shard in client.list_shards(StreamName=STREAM)["Shards"]:
        sid = shard["ShardId"]
        iterator = client.get_shard_iterator(
            StreamName=STREAM, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        served = back.served.setdefault(sid, [])
        while True:
            try:
                page = client.get_records(ShardIterator=iterator, Limit=1000)
            except ClientError as exc:
                back.errors[sid] = exc
                break
            served += [r["Data"] for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page["NextShardIterator"]
    return back


@dataclass
class Refusal:
    code: int
    stderr: str


def start_expecting_refusal(data_dir: Path, *args: str, timeout: float = 60) -> Refusal:
    """Run `shardflow serve` on a damaged data dir that it must refuse (it must exit)."""
    cmd = [sys.executable, "-m", "shardflow", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(free_port()), "--data-dir", str(data_dir), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return Refusal(done.returncode, done.stderr)


def start_or_refusal(data_dir: Path, *args: str) -> ServerProcess | Refusal:
    """A running server (the caller stops it, without `with`, which would start it again), or
    the refusal of one that exited."""
    server = ServerProcess(data_dir, *args)
    try:
        server.start()
    except RuntimeError:
        assert server.proc is not None
        code = server.proc.wait(10)
        if code is None or code == 0:
            raise
        return Refusal(code, server.log())
    return server


def check_data(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shardflow", "check-data", "--data-dir", str(data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def assert_one_line_refusal(refusal: Refusal, *words: str) -> str:
    """Exit code 2, no traceback, and a last line naming the file and what to do."""
    assert refusal.code == 2, refusal.stderr
    assert "Traceback" not in refusal.stderr, refusal.stderr
    line = refusal.stderr.strip().splitlines()[-1]
    assert line.startswith("shardflow: cannot start: "), line
    for word in words:
        assert word in line, (word, line)
    return line


# -- damage --------------------------------------------------------------------------------


def flip_payload_bytes(data_dir: Path, indexes: list[int]) -> None:
    """Change one byte inside each of these records' payloads, in place in the database file."""
    path = data_dir / DB
    raw = bytearray(path.read_bytes())
    for i in indexes:
        mark = b"%s%07d-" % (PAYLOAD_MARK, i)
        at = raw.find(mark)
        assert at >= 0, f"payload {i} not found in the file"
        while at >= 0:  # stale copies may linger in a page's free space: change them all
            raw[at + 40] ^= 0x5A
            at = raw.find(mark, at + 1)
    path.write_bytes(bytes(raw))


def overwrite_random_pages(data_dir: Path, pages: int, seed: int) -> None:
    """Overwrite whole pages (not the header page) with random bytes, as a bad disk might."""
    path = data_dir / DB
    count = path.stat().st_size // PAGE
    rng = random.Random(seed)
    with path.open("r+b") as f:
        for page in rng.sample(range(1, count), min(pages, count - 1)):
            f.seek(page * PAGE)
            f.write(rng.randbytes(PAGE))


def flip_random_bytes(data_dir: Path, count: int, seed: int) -> None:
    """Flip ``count`` random bytes anywhere past the database header page."""
    path = data_dir / DB
    raw = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for at in rng.sample(range(PAGE, len(raw)), count):
        raw[at] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(raw))


def run_sql(data_dir: Path, *statements: str) -> None:
    conn = sqlite3.connect(data_dir / DB, isolation_level=None)
    try:
        for sql in statements:
            conn.execute(sql)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def tear_wal(data_dir: Path) -> int:
    """Cut the WAL in the middle of its frames and scramble a few bytes past the cut point's
    first half: what a crash of a machine that never synced can leave. Returns its old size."""
    wal = data_dir / (DB + "-wal")
    size = wal.stat().st_size
    if size > 32:
        with wal.open("r+b") as f:
            f.truncate(32 + (size - 32) // 3)
    return size


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
