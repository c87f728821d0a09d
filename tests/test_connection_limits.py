"""Connection limits against a real server (issue 14, docs/operations.md): each refused the way
HTTP says, over raw sockets as a hostile client would send it."""

from __future__ import annotations

import http.client
import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from hyperframe.frame import ContinuationFrame, Frame, HeadersFrame, RstStreamFrame

from tests.conftest import make_client
from tests.helpers import FAKE_AMZ_DATE, FAKE_AUTHORIZATION
from tests.support import ServerProcess, server_of_its_own

HEADER_TIMEOUT_S = 1.0
IDLE_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 1.0
MAX_STREAMS = 4
MAX_HEADER_BYTES = 16 * 1024
SLACK_S = 6.0  # a scan a second, on a loaded machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(
        tmp_path_factory.mktemp("limits") / "data",
        f"--header-timeout-s={HEADER_TIMEOUT_S}",
        f"--idle-timeout-s={IDLE_TIMEOUT_S}",
        f"--body-timeout-s={BODY_TIMEOUT_S}",
        f"--max-streams={MAX_STREAMS}",
        f"--max-header-bytes={MAX_HEADER_BYTES}",
    )


def _connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection (reading what it sends), or None."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
        if not data:
            return time.monotonic() - started
    return None


def _head(extra: str = "", length: int = 2) -> bytes:
    return (
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: Kinesis_20131202.ListStreams\r\n"
        f"X-Amz-Date: {FAKE_AMZ_DATE}\r\nAuthorization: {FAKE_AUTHORIZATION}\r\n"
        f"{extra}Content-Length: {length}\r\n\r\n"
    ).encode()


def test_an_oversized_http1_head_gets_431(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_head(f"X-Big: {'a' * (MAX_HEADER_BYTES * 2)}\r\n") + b"{}")
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 431"), reply[:100]


def test_a_head_sent_a_line_at_a_time_is_cut_off(server: ServerProcess) -> None:
    """A header line every 0.3 s never completes the head: the header timeout ends it."""
    with _connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        sock.settimeout(0.3)
        took = None
        while time.monotonic() - started < HEADER_TIMEOUT_S + SLACK_S:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                sock.recv(4096)  # a 408, or end-of-file: the request is over either way
            except TimeoutError:
                continue
            except OSError:
                pass
            took = time.monotonic() - started
            break
        assert took is not None and took >= HEADER_TIMEOUT_S - 0.5, took


def test_a_silent_connection_is_closed_after_the_idle_timeout(server: ServerProcess) -> None:
    with _connect(server) as sock:
        took = _closed_within(sock, IDLE_TIMEOUT_S + SLACK_S)
        assert took is not None and took >= IDLE_TIMEOUT_S - 0.5, took


def test_an_idle_keep_alive_connection_is_closed(server: ServerProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok\n"
    assert conn.sock is not None
    took = _closed_within(conn.sock, IDLE_TIMEOUT_S + SLACK_S)
    assert took is not None
    conn.close()


def test_an_idle_http2_connection_is_closed(server: ServerProcess) -> None:
    with _connect(server) as sock:
        h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        h2c.initiate_connection()
        sock.sendall(h2c.data_to_send())
        took = _closed_within(sock, IDLE_TIMEOUT_S + SLACK_S)
        assert took is not None


def test_a_slow_body_gets_408_and_the_connection_closes(server: ServerProcess) -> None:
    with _connect(server) as sock:
        sock.sendall(_head(length=100) + b"{")
        sock.settimeout(BODY_TIMEOUT_S + SLACK_S)
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
        assert _closed_within(sock, SLACK_S) is not None


def _h2(server: ServerProcess) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = _connect(server)
    h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    h2c.initiate_connection()
    sock.sendall(h2c.data_to_send())
    return sock, h2c


def _request_headers(extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", "x"),
        (":path", "/"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "Kinesis_20131202.ListStreams"),
        ("x-amz-date", FAKE_AMZ_DATE),
        ("authorization", FAKE_AUTHORIZATION),
        *(extra or []),
    ]


def _frames(sock: socket.socket, seconds: float) -> list[Frame]:
    """The raw frames the server sends within ``seconds`` (after the preface)."""
    buf = b""
    sock.settimeout(0.3)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not data:
            break
        buf += data
    frames = []
    while len(buf) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
        frame.parse_body(memoryview(buf[9 : 9 + length]))
        frames.append(frame)
        buf = buf[9 + length :]
    return frames


def test_http2_advertises_and_enforces_its_stream_limit(server: ServerProcess) -> None:
    sock, h2c = _h2(server)
    with sock:
        block = h2c.encoder.encode(_request_headers())
        for stream_id in range(1, 2 * (MAX_STREAMS + 2), 2):  # headers, never a body
            frame = HeadersFrame(stream_id, data=block, flags=["END_HEADERS"])
            sock.sendall(frame.serialize())
        frames = _frames(sock, 2.0)
    settings = [f for f in frames if f.type == 0x4 and "ACK" not in f.flags]
    assert settings and settings[0].settings.get(
        h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
    ) == (MAX_STREAMS)
    resets = {f.stream_id: f.error_code for f in frames if f.type == 0x3}
    refused = [sid for sid, code in resets.items() if code == 0x7]  # REFUSED_STREAM
    assert refused and min(refused) > 2 * MAX_STREAMS - 1, resets


def test_an_oversized_http2_header_list_gets_431(server: ServerProcess) -> None:
    """A header list over the limit, in HEADERS + CONTINUATION frames: a 431 on the stream."""
    sock, h2c = _h2(server)
    with sock:
        block = h2c.encoder.encode(_request_headers([("x-big", "a" * (MAX_HEADER_BYTES * 2))]))
        chunks = [block[i : i + 16384] for i in range(0, len(block), 16384)]
        sock.sendall(HeadersFrame(1, data=chunks[0], flags=["END_STREAM"]).serialize())
        for i, chunk in enumerate(chunks[1:], 2):
            flags = ["END_HEADERS"] if i == len(chunks) else []
            sock.sendall(ContinuationFrame(1, data=chunk, flags=flags).serialize())
        frames = _frames(sock, 2.0)
    statuses = [
        dict(h2c.decoder.decode(f.data)).get(":status")
        for f in frames
        if f.type == 0x1 and f.stream_id == 1
    ]
    assert statuses == ["431"], [(f.type, f.stream_id) for f in frames]


def test_an_http2_reset_flood_gets_enhance_your_calm(server: ServerProcess) -> None:
    """Streams opened and reset at once, by the thousand (the "rapid reset" attack): hyper's
    own limit answers GOAWAY ENHANCE_YOUR_CALM and closes the connection."""
    sock, h2c = _h2(server)
    with sock:
        block = h2c.encoder.encode(_request_headers())
        try:
            for stream_id in range(1, 8001, 2):
                sock.sendall(
                    HeadersFrame(stream_id, data=block, flags=["END_HEADERS"]).serialize()
                    + RstStreamFrame(stream_id, error_code=0x8).serialize()  # CANCEL
                )
        except OSError:
            pass  # the server closed the connection
        frames = _frames(sock, 2.0)
    goaway = [f.error_code for f in frames if f.type == 0x7]
    assert goaway == [0xB], goaway  # ENHANCE_YOUR_CALM


# -- descriptors ---------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, clock ticks


def test_descriptor_exhaustion_backs_off_and_keeps_serving(tmp_path: Path) -> None:
    """RLIMIT_NOFILE 256 and 400 idle connections: established connections keep working, new
    calls get through as idle ones are closed, no core spins, one log line says why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1000:
        pytest.skip("the test client needs 1,000 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1000), hard))
    server = ServerProcess(tmp_path / "data")
    popen = subprocess.Popen

    def limited(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        return popen(*args, **kwargs)

    subprocess.Popen = limited  # type: ignore[misc]
    try:
        server.start()
    finally:
        subprocess.Popen = popen  # type: ignore[misc]
    idle: list[socket.socket] = []
    try:
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        kept.request("GET", "/healthz")
        assert kept.getresponse().read() == b"ok\n"
        for _ in range(400):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=30))
        assert server.proc is not None
        cpu_before, wall_before = _cpu_s(server.proc.pid), time.monotonic()
        for _ in range(3):  # the established connection is served throughout
            kept.request("GET", "/healthz")
            assert kept.getresponse().read() == b"ok\n"
            time.sleep(1)
        cpu = (_cpu_s(server.proc.pid) - cpu_before) / (time.monotonic() - wall_before)
        assert cpu < 0.5, f"the server used {cpu:.0%} of a core with idle connections"
        client = make_client(server.endpoint, connect_timeout=60, read_timeout=60)
        for _ in range(6):  # new connections: served once idle ones make room
            assert "StreamNames" in client.list_streams()  # type: ignore[attr-defined]
        log = server.log()
        assert log.count("Too many open files") == 1, log
    finally:
        for sock in idle:
            sock.close()
        server.stop()
