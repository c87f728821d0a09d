"""A lean Kinesis JSON 1.1 client on keep-alive HTTP/1.1 raw sockets (asyncio), and a null server.

Used by server_bench.py for the load phases, where boto3 would be the bottleneck:

* ``run_load`` sends pre-encoded request bodies on several keep-alive connections and parses only
  the status line, the framing headers and (for PutRecords) ``FailedRecordCount``.
* ``drain_stream`` reads every shard of a stream from TRIM_HORIZON with GetRecords, one connection
  per shard, parsing responses with orjson (records are counted, not base64-decoded).
* ``python bench/rawhttp.py null-server PORT [RECORDS]`` answers every request with a canned
  PutRecords response of RECORDS entries (default 500; 0 gives a PutRecord response) without
  looking at the body; it is the "trivial server" used to show that the load generator is far from
  saturating.

Only 127.0.0.1 endpoints are used by the benchmark.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

AMZ_JSON = "application/x-amz-json-1.1"
TARGET_PREFIX = "Kinesis_20131202."
# A syntactically valid but fake SigV4 signature (64 hex digits, as a real one has).
FAKE_SIGNATURE = "0" * 64
READ_LIMIT = 1 << 20  # StreamReader buffer limit for header lines


class HttpError(Exception):
    """A malformed or truncated HTTP response."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


def encode_request(host: str, operation: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 request (headers + body) for one Kinesis JSON 1.1 operation."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    auth = (
        f"AWS4-HMAC-SHA256 Credential=AKID/{amz_date[:8]}/us-east-1/kinesis/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={FAKE_SIGNATURE}"
    )
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {AMZ_JSON}\r\n"
        f"X-Amz-Target: {TARGET_PREFIX}{operation}\r\nX-Amz-Date: {amz_date}\r\n"
        f"Authorization: {auth}\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


def put_records_bodies(
    stream: str, count: int, records_per_request: int, record_size: int, seed: int = 1
) -> list[bytes]:
    """``count`` distinct PutRecords JSON bodies with random data and random partition keys."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(count):
        records = [
            {
                "Data": base64.b64encode(os.urandom(record_size)).decode("ascii"),
                "PartitionKey": f"{rng.getrandbits(64):016x}",
            }
            for _ in range(records_per_request)
        ]
        bodies.append(orjson.dumps({"StreamName": stream, "Records": records}))
    return bodies


def put_record_bodies(stream: str, count: int, record_size: int, seed: int = 1) -> list[bytes]:
    """``count`` distinct single-record PutRecord JSON bodies (random data and partition keys)."""
    rng = random.Random(seed)
    return [
        orjson.dumps(
            {
                "StreamName": stream,
                "Data": base64.b64encode(os.urandom(record_size)).decode("ascii"),
                "PartitionKey": f"{rng.getrandbits(64):016x}",
            }
        )
        for _ in range(count)
    ]


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; reconnects lazily after the peer closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=READ_LIMIT
            )
        assert self._reader is not None
        try:
            self._writer.write(raw)
            await self._writer.drain()
        except RuntimeError as exc:  # uvloop: write on a transport the peer already closed
            self.close()
            raise ConnectionResetError(str(exc)) from exc
        try:
            return await self._read_response(self._reader)
        except (asyncio.IncompleteReadError, HttpError, OSError):
            self.close()
            raise

    async def call(self, operation: str, payload: dict[str, object]) -> tuple[int, object]:
        """Send one JSON request; return (status, decoded JSON body)."""
        host = f"{self.host}:{self.port}"
        resp = await self.request(encode_request(host, operation, orjson.dumps(payload)))
        return resp.status, (orjson.loads(resp.body) if resp.body else None)

    async def _read_response(self, reader: asyncio.StreamReader) -> Response:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpError(f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip().lower()
        body = await self._read_body(reader, headers)
        if headers.get("connection") == "close":
            self.close()
        return Response(int(parts[1]), body)

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if "chunked" in headers.get("transfer-encoding", ""):
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        body = await reader.read()  # framed by connection close
        self.close()
        return body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@dataclass
class LoadResult:
    """Outcome of one ``run_load`` call."""

    requests: int = 0
    non_200: int = 0
    errors: int = 0  # connection-level failures
    records_ok: int = 0
    records_failed: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    first_error: str = ""


def _failed_count(body: bytes, records: int) -> int:
    try:
        return int(orjson.loads(body).get("FailedRecordCount", 0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return records


async def run_load(
    host: str,
    port: int,
    requests: list[bytes],
    records_per_request: int,
    connections: int,
    *,
    duration_s: float | None = None,
    total_requests: int | None = None,
) -> LoadResult:
    """Send ``requests`` round-robin on ``connections`` keep-alive connections.

    Stops after ``duration_s`` seconds or ``total_requests`` requests, whichever comes first.
    """
    result = LoadResult()
    state = {"next": 0}
    deadline = time.perf_counter() + (duration_s if duration_s is not None else 1e9)
    limit = total_requests if total_requests is not None else 1 << 62

    async def worker() -> None:
        conn = HttpConnection(host, port)
        try:
            while time.perf_counter() < deadline and state["next"] < limit:
                raw = requests[state["next"] % len(requests)]
                state["next"] += 1
                await _one_request(conn, raw, records_per_request, result)
        finally:
            conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.elapsed_s = time.perf_counter() - t0
    result.client_cpu_s = time.process_time() - cpu0
    return result


async def _one_request(conn: HttpConnection, raw: bytes, records: int, result: LoadResult) -> None:
    t = time.perf_counter()
    try:
        resp = await conn.request(raw)
    except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
        result.errors += 1
        result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(0.01)
        return
    result.latencies_ms.append((time.perf_counter() - t) * 1000.0)
    result.requests += 1
    result.statuses[resp.status] = result.statuses.get(resp.status, 0) + 1
    if resp.status != 200:
        result.non_200 += 1
        result.records_failed += records
        result.first_error = result.first_error or f"HTTP {resp.status}: {resp.body[:200]!r}"
        return
    failed = _failed_count(resp.body, records)
    result.records_failed += failed
    result.records_ok += records - failed


@dataclass
class DrainResult:
    """Outcome of one ``drain_stream`` call."""

    records: int = 0
    data_bytes: int = 0  # base64 characters received / 4 * 3, i.e. approximate payload bytes
    calls: int = 0
    empty_calls: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    per_shard: dict[str, int] = field(default_factory=dict)
    first_error: str = ""


async def drain_stream(
    host: str, port: int, stream: str, shard_ids: list[str], limit: int, max_errors: int = 20
) -> DrainResult:
    """Read every shard from TRIM_HORIZON until a GetRecords call returns no records."""
    result = DrainResult()

    async def drain_shard(shard_id: str) -> None:
        conn = HttpConnection(host, port)
        try:
            await _drain_one_shard(conn, stream, shard_id, limit, result, max_errors)
        finally:
            conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(drain_shard(s) for s in shard_ids))
    result.elapsed_s = time.perf_counter() - t0
    result.client_cpu_s = time.process_time() - cpu0
    return result


async def _drain_one_shard(
    conn: HttpConnection,
    stream: str,
    shard_id: str,
    limit: int,
    result: DrainResult,
    max_errors: int,
) -> None:
    status, body = await conn.call(
        "GetShardIterator",
        {"StreamName": stream, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"},
    )
    if status != 200 or not isinstance(body, dict):
        result.errors += 1
        result.first_error = result.first_error or f"GetShardIterator HTTP {status}: {body}"
        return
    iterator = body.get("ShardIterator")
    count = 0
    while iterator:
        status, body = await conn.call("GetRecords", {"ShardIterator": iterator, "Limit": limit})
        result.calls += 1
        if status != 200 or not isinstance(body, dict):
            result.errors += 1
            result.first_error = result.first_error or f"GetRecords HTTP {status}: {body}"
            if result.errors >= max_errors:
                break
            continue
        records = body.get("Records") or []
        if not records:
            result.empty_calls += 1
            break
        count += len(records)
        result.data_bytes += sum(len(r.get("Data", "")) for r in records) * 3 // 4
        iterator = body.get("NextShardIterator")
    result.records += count
    result.per_shard[shard_id] = count


# ----------------------------------------------------------------------------- null server


def null_response(records: int) -> bytes:
    """A canned, realistically sized 200 response: PutRecords of ``records`` records, or
    PutRecord if ``records`` is 0."""
    if records == 0:
        body = orjson.dumps({"ShardId": "shardId-000000000000", "SequenceNumber": "4" + "9" * 55})
    else:
        entries = [
            {"SequenceNumber": "4" + "9" * 55, "ShardId": f"shardId-{i % 4:012d}"}
            for i in range(records)
        ]
        body = orjson.dumps({"FailedRecordCount": 0, "Records": entries})
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {AMZ_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


class NullProtocol(asyncio.Protocol):
    """Skip each request body (Content-Length framing only) and answer with a canned response."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.transport: Any = None  # uvloop's transports do not subclass asyncio.Transport
        self.head = bytearray()
        self.body_left = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.body_left:
                take = min(self.body_left, len(view))
                self.body_left -= take
                view = view[take:]
                if not self.body_left and self.transport is not None:
                    self.transport.write(self.response)
                continue
            self.head += view
            view = memoryview(b"")
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            view = memoryview(bytes(self.head[end + 4 :]))
            self.body_left = _content_length(bytes(self.head[:end]))
            self.head.clear()
            if not self.body_left and self.transport is not None:
                self.transport.write(self.response)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            return int(line[15:])
    return 0


async def serve_null(port: int, records: int) -> None:
    response = null_response(records)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: NullProtocol(response), "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - plain asyncio works too, just slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str]) -> int:
    """``null-server PORT [RECORDS]``: RECORDS entries per response (default 500; 0 = PutRecord)."""
    if len(argv) not in (3, 4) or argv[1] != "null-server":
        print("usage: rawhttp.py null-server PORT [RECORDS]", file=sys.stderr)
        return 2
    _install_uvloop()
    asyncio.run(serve_null(int(argv[2]), int(argv[3]) if len(argv) == 4 else 500))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
