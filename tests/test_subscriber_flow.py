"""SubscribeToShard flow control (issue 14, server/flow.py): a subscriber that stops reading is
paused, then its stream ends with an error event; one that reads gets everything."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from tests.conftest import make_client
from tests.helpers import FAKE_AMZ_DATE, FAKE_AUTHORIZATION, raw_subscribe
from tests.support import ServerProcess, server_of_its_own

STALL_S = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(
        tmp_path_factory.mktemp("flow") / "data",
        f"--subscriber-stall-s={STALL_S}",
        "--subscriber-buffer-bytes=65536",
    )


def _consumer(client: Any, stream: str) -> str:
    client.create_stream(StreamName=stream, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=stream)
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="slow")["Consumer"]
    time.sleep(0.5)  # ACTIVE
    return str(consumer["ConsumerARN"])


def _subscribe(server: ServerProcess, consumer_arn: str) -> socket.socket:
    return raw_subscribe(server.port, consumer_arn, "TRIM_HORIZON")


def _read_all(sock: socket.socket, quiet_s: float, total_s: float = 30.0) -> bytes:
    """Everything the server sends until it is quiet for ``quiet_s``, closes, or ``total_s``."""
    sock.settimeout(quiet_s)
    out = b""
    deadline = time.monotonic() + total_s
    while time.monotonic() < deadline:
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            return out
        if not data:
            return out
        out += data
        if out.endswith(b"\r\n0\r\n\r\n"):  # the chunked response's end
            return out
    return out


def test_a_subscriber_that_stops_reading_gets_an_error_event(server: ServerProcess) -> None:
    client: Any = make_client(server.endpoint)
    arn = _consumer(client, "flow-stalled")
    for _ in range(8):  # 8 x 5 x 100 KB: far more than the 64 KiB the stream may hold
        client.put_records(
            StreamName="flow-stalled", Records=[{"Data": b"d" * 100_000, "PartitionKey": "k"}] * 5
        )
    with _subscribe(server, arn) as sock:
        time.sleep(STALL_S + 3)  # reading nothing
        received = _read_all(sock, quiet_s=3.0)
    assert b"InternalFailureException" in received, received[-300:]
    assert b"read nothing for 2 s" in received
    assert received.count(b"SubscribeToShardEvent") < 40, "the stream was not paused"
    assert "ended: its client read nothing" in server.log()


def test_a_subscriber_that_reads_gets_every_record(server: ServerProcess) -> None:
    client: Any = make_client(server.endpoint)
    arn = _consumer(client, "flow-reading")
    for _ in range(8):
        client.put_records(
            StreamName="flow-reading", Records=[{"Data": b"d" * 100_000, "PartitionKey": "k"}] * 5
        )
    with _subscribe(server, arn) as sock:
        # quiet for longer than a shard's read-rate second (2 MiB/s: the 4 MB come in 2 s)
        received = _read_all(sock, quiet_s=2.5, total_s=STALL_S + 8)  # past a heartbeat
    assert b"InternalFailureException" not in received
    assert received.count(b'"SequenceNumber"') == 40


def _h2_subscribe(
    server: ServerProcess, consumer_arn: str
) -> tuple[socket.socket, h2.connection.H2Connection]:
    """The same subscription over cleartext HTTP/2 (spliced to granian behind the loop's front),
    with a window so large that only the server's own pacing can hold the stream back."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.local_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1}
    )
    conn.initiate_connection()
    conn.increment_flow_control_window(2**31 - 1 - 65535)
    body = json.dumps(
        {
            "ConsumerARN": consumer_arn,
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "TRIM_HORIZON"},
        }
    ).encode()
    conn.send_headers(
        1,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "x"),
            (":path", "/"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "Kinesis_20131202.SubscribeToShard"),
            ("x-amz-date", FAKE_AMZ_DATE),
            ("authorization", FAKE_AUTHORIZATION),
            ("content-length", str(len(body))),
        ],
    )
    conn.send_data(1, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    return sock, conn


def _h2_read_stream(sock: socket.socket, conn: h2.connection.H2Connection) -> bytes:
    """The subscription's body, read until its stream ends (or 30 s)."""
    sock.settimeout(3.0)
    body = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            break
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                body += event.data
            elif isinstance(event, h2.events.StreamEnded):
                return body
        sock.sendall(conn.data_to_send())
    return body


def test_an_http2_subscriber_that_stops_reading_gets_an_error_event(server: ServerProcess) -> None:
    """Pacing follows the public connection's TCP acknowledgements through the splice to
    granian: a subscriber that reads nothing is paused, then ended with the error event."""
    client: Any = make_client(server.endpoint)
    arn = _consumer(client, "flow-h2")
    for _ in range(8):
        client.put_records(
            StreamName="flow-h2", Records=[{"Data": b"d" * 100_000, "PartitionKey": "k"}] * 5
        )
    sock, conn = _h2_subscribe(server, arn)
    with sock:
        time.sleep(STALL_S + 3)  # reading nothing
        received = _h2_read_stream(sock, conn)
    assert b"InternalFailureException" in received, received[-300:]
    assert b"read nothing for 2 s" in received
    assert received.count(b"SubscribeToShardEvent") < 40, "the stream was not paused"
