"""Memory under abuse (issue 14): the server's RSS stays under +100 MiB while hostile clients
work on it, and comes back within 10 % of where it started once they leave."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import h2.config
import h2.connection
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame

from tests.conftest import make_client
from tests.helpers import raw_subscribe
from tests.support import ServerProcess, server_of_its_own

MIB = 1024 * 1024
GROWTH_MAX = 100 * MIB
SETTLE_S = 20.0  # how long RSS may take to come back (idle connections closed, frees)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from server_of_its_own(
        tmp_path / "data", "--idle-timeout-s=10", "--body-timeout-s=2", "--subscriber-stall-s=3"
    )


def _rss(server: ServerProcess) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _under_abuse(server: ServerProcess, abuse: Callable[[], None]) -> tuple[int, int, int]:
    """(RSS before, peak RSS during, RSS after the clients left), sampled every 50 ms."""
    start = _rss(server)
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(server))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        abuse()
    finally:
        done.set()
        sampler.join()
    deadline = time.monotonic() + SETTLE_S
    after = _rss(server)
    while time.monotonic() < deadline and after > start * 1.1:
        time.sleep(0.5)
        after = _rss(server)
    return start, peak, after


def _assert_bounded(start: int, peak: int, after: int) -> None:
    print(f"RSS start {start / MIB:.0f} peak {peak / MIB:.0f} after {after / MIB:.0f} MiB")
    assert peak - start < GROWTH_MAX, f"RSS grew {(peak - start) / MIB:.0f} MiB"
    assert after <= start * 1.1, f"RSS {start / MIB:.0f} -> {after / MIB:.0f} MiB after"


def _warm(server: ServerProcess) -> None:
    """Bring RSS to its working level first (imports, caches), as a server in use has it."""
    client = make_client(server.endpoint)
    for _ in range(50):
        client.list_streams()  # type: ignore[attr-defined]


# -- HTTP/2 header flood -------------------------------------------------------------------


def _literal(name: bytes, value: bytes) -> bytes:
    """An HPACK literal header field without indexing (RFC 7541 6.2.2), no Huffman."""

    def integer(n: int, prefix_bits: int = 7) -> bytes:
        top = (1 << prefix_bits) - 1
        if n < top:
            return bytes([n])
        out = [top]
        n -= top
        while n >= 128:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        return bytes([*out, n])

    return b"\x00" + integer(len(name)) + name + integer(len(value)) + value


def test_http2_header_flood(server: ServerProcess) -> None:
    """3 connections x 20 streams x 8 MiB header blocks (HEADERS + CONTINUATION), no bodies."""
    _warm(server)
    big = _literal(b"x-big", b"a" * (8 * MIB))

    def flood() -> None:
        def one() -> None:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                h2c.initiate_connection()
                sock.sendall(h2c.data_to_send())
                head = h2c.encoder.encode([(":method", "POST"), (":scheme", "http"),
                                           (":authority", "x"), (":path", "/")])  # fmt: skip
                block = head + big
                try:
                    for stream_id in range(1, 41, 2):
                        chunks = [block[i : i + 16384] for i in range(0, len(block), 16384)]
                        sock.sendall(HeadersFrame(stream_id, data=chunks[0]).serialize())
                        for i, chunk in enumerate(chunks[1:], 2):
                            flags = ["END_HEADERS"] if i == len(chunks) else []
                            sock.sendall(
                                ContinuationFrame(stream_id, data=chunk, flags=flags).serialize()
                            )
                except OSError:
                    pass  # refused: the server ended the connection

        threads = [threading.Thread(target=one) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _assert_bounded(*_under_abuse(server, flood))


# -- fan-out subscribers that never read ----------------------------------------------------


def test_subscribers_that_never_read(server: ServerProcess) -> None:
    """40 subscriptions that read nothing while 60 MB is written to their shards."""
    client = make_client(server.endpoint)
    consumers: list[tuple[str, str]] = []
    for n in range(2):
        name = f"mem-{n}"
        client.create_stream(StreamName=name, ShardCount=1)  # type: ignore[attr-defined]
        client.get_waiter("stream_exists").wait(StreamName=name)  # type: ignore[attr-defined]
        arn = client.describe_stream_summary(StreamName=name)[  # type: ignore[attr-defined]
            "StreamDescriptionSummary"
        ]["StreamARN"]
        for c in range(20):
            out = client.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{c}")  # type: ignore[attr-defined]
            consumers.append((name, out["Consumer"]["ConsumerARN"]))
    time.sleep(1)  # consumers become ACTIVE
    record = b"r" * (100 * 1000)

    def write_60_mb() -> None:
        for _ in range(6):  # 2 streams x 6 calls x 50 x 100 KB = 60 MB
            for name in ("mem-0", "mem-1"):
                client.put_records(  # type: ignore[attr-defined]
                    StreamName=name, Records=[{"Data": record, "PartitionKey": "k"}] * 50
                )

    write_60_mb()  # the same writes and reads without subscribers first: caches at their size
    for name in ("mem-0", "mem-1"):
        it = client.get_shard_iterator(  # type: ignore[attr-defined]
            StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            page = client.get_records(ShardIterator=it, Limit=100)  # type: ignore[attr-defined]
            it = (
                None
                if page["MillisBehindLatest"] == 0 and not page["Records"]
                else page["NextShardIterator"]
            )
    _warm(server)
    socks: list[socket.socket] = []

    def abuse() -> None:
        for _, arn in consumers:
            socks.append(raw_subscribe(server.port, arn, "LATEST"))  # and never read it
        time.sleep(1)
        write_60_mb()
        time.sleep(5)  # the subscriptions pause, then end as stalled
        for sock in socks:
            sock.close()

    _assert_bounded(*_under_abuse(server, abuse))


# -- slow bodies ----------------------------------------------------------------------------


def test_slow_bodies(server: ServerProcess) -> None:
    """200 requests that declare 16 MB bodies, send 256 KiB of them and stop."""
    _warm(server)

    def abuse() -> None:
        socks = []
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                b"X-Amz-Target: Kinesis_20131202.PutRecords\r\n"
                b"Content-Length: 16000000\r\n\r\n" + b"{" * (256 * 1024)
            )
            socks.append(sock)
        time.sleep(4)  # past the body timeout: each got a 408
        for sock in socks:
            sock.close()

    _assert_bounded(*_under_abuse(server, abuse))
