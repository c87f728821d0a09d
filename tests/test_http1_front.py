"""HTTP/1.1 as the event loop's front parses it (server/h1connection.py), over raw sockets: the
framings clients use besides boto3's one request per Content-Length body."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import make_client
from tests.helpers import FAKE_AMZ_DATE, FAKE_AUTHORIZATION, JSON_CONTENT_TYPE, TARGET_PREFIX
from tests.support import ServerProcess, server_of_its_own

LIST_STREAMS = TARGET_PREFIX + "ListStreams"


def _head(extra: str = "", length: int | None = 2, target: str = LIST_STREAMS) -> bytes:
    framing = "" if length is None else f"Content-Length: {length}\r\n"
    return (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_CONTENT_TYPE}\r\n"
        f"X-Amz-Target: {target}\r\nX-Amz-Date: {FAKE_AMZ_DATE}\r\n"
        f"Authorization: {FAKE_AUTHORIZATION}\r\n{extra}{framing}\r\n"
    ).encode()


def _connect(endpoint: str) -> socket.socket:
    url = urlsplit(endpoint)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _responses(sock: socket.socket, count: int) -> list[tuple[bytes, dict[str, str], bytes]]:
    """Read ``count`` Content-Length framed responses: (status line, headers, body)."""
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(out)} responses: {buf[:200]!r}"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        status, *lines = head.split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        while len(buf) < size:
            chunk = sock.recv(65536)
            assert chunk, "closed mid-body"
            buf += chunk
        out.append((status, headers, buf[:size]))
        buf = buf[size:]
    return out


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_pipelined_requests_are_answered_in_order(endpoint: str) -> None:
    create = json.dumps({"StreamName": "pipelined-missing"}).encode()
    describe = _head(length=len(create), target=TARGET_PREFIX + "DescribeStreamSummary") + create
    with _connect(endpoint) as sock:
        sock.sendall(_head() + b"{}" + describe + _head() + b"{}")  # three in one write
        answers = _responses(sock, 3)
    assert [a[0][:12] for a in answers] == [b"HTTP/1.1 200", b"HTTP/1.1 400", b"HTTP/1.1 200"]
    assert "StreamNames" in json.loads(answers[0][2])
    assert json.loads(answers[1][2])["__type"] == "ResourceNotFoundException"
    assert answers[0][1]["x-amzn-requestid"] != answers[2][1]["x-amzn-requestid"]


def test_a_chunked_request_body_is_read_whole(endpoint: str) -> None:
    body = b'{"Limit": 5}'
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (4, body[:4], len(body) - 4, body[4:])
    with _connect(endpoint) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked\r\n", length=None) + chunked)
        [(status, _, answer)] = _responses(sock, 1)
    assert status.startswith(b"HTTP/1.1 200"), answer
    assert "HasMoreStreams" in json.loads(answer)


def test_expect_100_continue_gets_its_interim_answer(endpoint: str) -> None:
    with _connect(endpoint) as sock:
        sock.sendall(_head("Expect: 100-continue\r\n"))
        interim = sock.recv(4096)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        [(status, _, _)] = _responses(sock, 1)
    assert status.startswith(b"HTTP/1.1 200")


def test_connection_close_is_honoured(endpoint: str) -> None:
    with _connect(endpoint) as sock:
        sock.sendall(_head("Connection: close\r\n") + b"{}")
        [(status, headers, _)] = _responses(sock, 1)
        assert status.startswith(b"HTTP/1.1 200")
        assert headers["connection"] == "close"
        assert _closed(sock)


def test_http_1_0_closes_after_its_answer(endpoint: str) -> None:
    with _connect(endpoint) as sock:
        sock.sendall(_head().replace(b"HTTP/1.1", b"HTTP/1.0", 1) + b"{}")
        [(status, _, _)] = _responses(sock, 1)
        assert status.startswith(b"HTTP/1.1 200")
        assert _closed(sock)


def test_every_answer_carries_a_date(endpoint: str) -> None:
    with _connect(endpoint) as sock:
        sock.sendall(_head() + b"{}")
        [(_, headers, _)] = _responses(sock, 1)
    assert headers["date"].endswith(" GMT"), headers


def test_conflicting_framing_is_refused_and_closed(endpoint: str) -> None:
    """Content-Length and Transfer-Encoding together: a smuggling attempt, 400 and closed."""
    with _connect(endpoint) as sock:
        sock.sendall(_head("Transfer-Encoding: chunked\r\n") + b"{}")
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400"), reply[:100]
        assert _closed(sock)


def test_a_garbled_request_line_gets_400(endpoint: str) -> None:
    with _connect(endpoint) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:100]


@pytest.fixture(scope="module")
def granian_front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(
        tmp_path_factory.mktemp("granian-front") / "data", "--http1-front", "granian"
    )


def test_the_granian_front_still_serves(granian_front: ServerProcess) -> None:
    client = make_client(granian_front.endpoint)
    client.create_stream(StreamName="via-granian", ShardCount=1)  # type: ignore[attr-defined]
    names = client.list_streams()["StreamNames"]  # type: ignore[attr-defined]
    assert "via-granian" in names


def test_an_h2c_upgrade_request_is_answered_in_http_1_1(endpoint: str) -> None:
    """curl --http2 on cleartext asks to upgrade; the answer stays HTTP/1.1, and so does the
    connection."""
    upgrade = (
        "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
    )
    with _connect(endpoint) as sock:
        sock.sendall(_head(upgrade) + b"{}")
        [(status, _, first)] = _responses(sock, 1)
        sock.sendall(_head() + b"{}")
        [(again, _, second)] = _responses(sock, 1)
    assert status.startswith(b"HTTP/1.1 200") and again.startswith(b"HTTP/1.1 200")
    assert json.loads(first) == json.loads(second)


def test_a_large_answer_then_a_pipelined_one_arrive_whole_and_in_order(endpoint: str) -> None:
    """A GetRecords page over 256 KiB is sent by a thread (h1connection.OFFLOAD_BYTES); the
    request pipelined behind it is answered after it, on the same connection."""
    client = make_client(endpoint)
    client.create_stream(StreamName="big-page", ShardCount=1)  # type: ignore[attr-defined]
    client.get_waiter("stream_exists").wait(StreamName="big-page")  # type: ignore[attr-defined]
    for batch in range(3):
        records = [{"Data": bytes([batch]) * 4000, "PartitionKey": str(i)} for i in range(100)]
        client.put_records(StreamName="big-page", Records=records)  # type: ignore[attr-defined]
    iterator = client.get_shard_iterator(  # type: ignore[attr-defined]
        StreamName="big-page", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    get = json.dumps({"ShardIterator": iterator}).encode()
    with _connect(endpoint) as sock:
        sock.sendall(
            _head(length=len(get), target=TARGET_PREFIX + "GetRecords") + get + _head() + b"{}"
        )
        (first, _, page), (second, _, listing) = _responses(sock, 2)
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")
    assert len(page) > 256 * 1024
    records = json.loads(page)["Records"]
    assert [r["Data"][:4] for r in records[::100]] == ["AAAA", "AQEB", "AgIC"]
    assert len(records) == 300
    assert "big-page" in json.loads(listing)["StreamNames"]
