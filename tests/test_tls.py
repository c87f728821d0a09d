"""HTTPS: `shardflow serve --tls` (a local CA) and `--tls-cert/--tls-key` (a certificate brought).

HTTP/2 over TLS is what the AWS SDK for Java uses for SubscribeToShard; the server offers h2 and
http/1.1 by ALPN on one port. tests/test_js_sdk.py runs the JavaScript SDK over it too.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import h2.config
import h2.connection
import h2.events
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import SSLError

from shardflow.server.tls import local_ca_files
from tests.helpers import FAKE_AMZ_DATE, FAKE_AUTHORIZATION, JSON_CONTENT_TYPE, TARGET_PREFIX
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), reason="starts servers of its own"
)


def tls_client(endpoint: str, ca: Path) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        verify=str(ca),
        config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def test_boto3_round_trip_and_subscribe_over_https(tls_server: ServerProcess) -> None:
    client = tls_client(tls_server.endpoint, tls_server.ca_file)
    stream = f"tls-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=stream, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1})
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer = client.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
    for _ in range(100):
        described = client.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
        if described["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    put = client.put_records(
        StreamName=stream,
        Records=[{"Data": f"r{i}".encode(), "PartitionKey": "k"} for i in range(5)],
    )
    assert put["FailedRecordCount"] == 0
    shard = put["Records"][0]["ShardId"]
    iterator = client.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    got = client.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in got] == [f"r{i}".encode() for i in range(5)]

    events = client.subscribe_to_shard(
        ConsumerARN=consumer["ConsumerARN"],
        ShardId=shard,
        StartingPosition={"Type": "TRIM_HORIZON"},
    )["EventStream"]
    pushed: list[bytes] = []
    try:
        for event in events:
            pushed += [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
            if len(pushed) >= 5:
                break
    finally:
        events.close()
    assert pushed == [f"r{i}".encode() for i in range(5)]


def test_alpn_negotiates_http2_and_serves_a_call(tls_server: ServerProcess) -> None:
    url = urlsplit(tls_server.endpoint)
    context = ssl.create_default_context(cafile=str(tls_server.ca_file))
    context.set_alpn_protocols(["h2", "http/1.1"])
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    with (
        socket.create_connection((url.hostname, url.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        assert sock.selected_alpn_protocol() == "h2"
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        body = b"{}"
        conn.send_headers(
            stream_id,
            [
                (":method", "POST"),
                (":path", "/"),
                (":scheme", "https"),
                (":authority", url.netloc),
                ("content-type", JSON_CONTENT_TYPE),
                ("x-amz-target", TARGET_PREFIX + "ListStreams"),
                ("x-amz-date", FAKE_AMZ_DATE),
                ("authorization", FAKE_AUTHORIZATION),
                ("content-length", str(len(body))),
            ],
        )
        conn.send_data(stream_id, body, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, data, ended = "", b"", False
        while not ended:
            chunk = sock.recv(65536)
            assert chunk, "the connection closed before the response ended"
            for event in conn.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"].decode()
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(conn.data_to_send())
    assert status == "200", data
    assert isinstance(json.loads(data)["StreamNames"], list)


def test_the_local_ca_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = ServerProcess(data_dir, "--tls")
    first.start()
    first.stop()
    ca, cert = first.ca_file.read_bytes(), (data_dir / "tls" / "cert.pem").read_bytes()
    assert oct((data_dir / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"
    second = ServerProcess(data_dir, "--tls")
    second.start()
    try:
        assert (
            first.ca_file.read_bytes() == ca
            and (data_dir / "tls" / "cert.pem").read_bytes() == cert
        )
        assert "StreamNames" in tls_client(second.endpoint, second.ca_file).list_streams()
    finally:
        second.stop()


def test_a_certificate_brought_with_tls_cert_and_tls_key(tmp_path: Path) -> None:
    mine = local_ca_files(tmp_path / "mine", "127.0.0.1")  # stands in for the user's own PKI
    assert mine.ca is not None
    args = ("--tls-cert", str(mine.cert), "--tls-key", str(mine.key))
    server = ServerProcess(tmp_path / "data", *args, ca=mine.ca)
    server.start()
    try:
        assert "StreamNames" in tls_client(server.endpoint, mine.ca).list_streams()
        assert not (tmp_path / "data" / "tls").exists(), "no local CA when a certificate is given"
        untrusting = boto3.client(
            "kinesis",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="secret",
            config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusting.list_streams()
    finally:
        server.stop()


def test_a_certificate_without_its_key_is_a_usage_error(tmp_path: Path) -> None:
    files = local_ca_files(tmp_path / "mine", "127.0.0.1")
    proc = subprocess.run(
        [sys.executable, "-m", "shardflow", "serve", "--port", "0", "--tls-cert", str(files.cert)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "--tls-cert and --tls-key go together" in proc.stderr
