"""CORS for browser pages, and the admin surface kept out of their reach (server.cors,
server.admin_guard). Raw HTTP, since the headers are the point."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support import ServerProcess, server_of_its_own

LIST_STREAMS = {
    "content-type": "application/x-amz-json-1.1",
    "x-amz-target": "Kinesis_20131202.ListStreams",
    "authorization": "AWS4-HMAC-SHA256 Credential=AKIDTEST/20240101/us-east-1/kinesis/"
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
    "x-amz-date": "20240101T000000Z",
}
PLAN = {"operations": {"ListShards": {"latency_ms": 1}}}  # valid: accepted if it got through


def call(
    endpoint: str, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host="host" in headers)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("content-length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def listed_origin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("cors") / "data"
    yield from server_of_its_own(data, "--cors-origins", "http://app.example:8080")


def test_every_response_exposes_awss_headers(server: ServerProcess) -> None:
    origin = {"origin": "http://127.0.0.1:9"}
    status, headers, _ = call(server.endpoint, "POST", "/", {**LIST_STREAMS, **origin}, b"{}")
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    exposed = {h.strip().lower() for h in headers["access-control-expose-headers"].split(",")}
    assert exposed == {"x-amzn-requestid", "x-amz-id-2", "x-amzn-errortype"}
    # Errors too: the SDK reads the error type from x-amzn-ErrorType.
    bad = {**LIST_STREAMS, "x-amz-target": "Kinesis_20131202.DescribeStream", **origin}
    status, headers, _ = call(server.endpoint, "POST", "/", bad, b'{"StreamName": "nope-x"}')
    assert status == 400 and headers["access-control-allow-origin"] == "*"
    assert headers["x-amzn-errortype"].startswith("ResourceNotFoundException")


def test_preflight_is_answered(server: ServerProcess) -> None:
    status, headers, body = call(
        server.endpoint,
        "OPTIONS",
        "/",
        {
            "origin": "http://127.0.0.1:9",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,x-amz-target",
        },
    )
    assert (status, body) == (200, b"")
    assert headers["access-control-allow-origin"] == "*"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "authorization,content-type,x-amz-target"


def test_listed_origins_only(listed_origin_server: ServerProcess) -> None:
    endpoint = listed_origin_server.endpoint
    allowed = {**LIST_STREAMS, "origin": "http://app.example:8080"}
    status, headers, _ = call(endpoint, "POST", "/", allowed, b"{}")
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://app.example:8080"
    assert headers["vary"] == "Origin"
    other = {**LIST_STREAMS, "origin": "http://evil.example"}
    status, headers, _ = call(endpoint, "POST", "/", other, b"{}")
    assert "access-control-allow-origin" not in headers
    status, headers, _ = call(
        endpoint,
        "OPTIONS",
        "/",
        {"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    assert status == 403 and "access-control-allow-origin" not in headers


def _plan(endpoint: str) -> dict[str, Any]:
    status, _, body = call(endpoint, "GET", "/_shardflow/faults", {})
    assert status == 200
    return dict(json.loads(body))


def test_admin_refuses_cross_site_and_rebound_requests(server: ServerProcess) -> None:
    endpoint = server.endpoint
    before = _plan(endpoint)
    body = json.dumps(PLAN).encode()
    # A page of another origin posting a "simple" request (no preflight): refused.
    form = {"origin": "http://127.0.0.1:9", "content-type": "text/plain"}
    status, headers, _ = call(endpoint, "POST", "/_shardflow/faults", form, body)
    assert status == 403 and "access-control-allow-origin" not in headers
    status, _, _ = call(
        endpoint, "POST", "/_shardflow/faults", {"sec-fetch-site": "cross-site"}, body
    )
    assert status == 403
    # DNS rebinding: the attacker's name in Host.
    status, _, _ = call(endpoint, "POST", "/_shardflow/faults", {"host": "evil.example"}, body)
    assert status == 403
    # No preflight for the admin surface.
    preflight = {"origin": "http://127.0.0.1:9", "access-control-request-method": "POST"}
    status, headers, _ = call(endpoint, "OPTIONS", "/_shardflow/faults", preflight)
    assert status == 403 and "access-control-allow-origin" not in headers
    assert _plan(endpoint) == before  # nothing changed
    # The server's own origin (its dashboard) and tools that send no Origin are served.
    same = {"origin": endpoint, "content-type": "application/json"}
    status, _, _ = call(endpoint, "GET", "/_shardflow/faults", same)
    assert status == 200
    status, _, _ = call(endpoint, "GET", "/_shardflow/faults", {"host": "localhost"})
    assert status == 200
    # The same plan from a tool (no Origin) is taken: the refusals above were the guard's.
    status, _, _ = call(endpoint, "POST", "/_shardflow/faults", {}, body)
    assert status == 200 and _plan(endpoint) != before
    status, _, _ = call(endpoint, "DELETE", "/_shardflow/faults", {})
    assert status == 200


def test_admin_needs_a_signature_under_auth_verify(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("admin-verify")
    credentials = root / "credentials"
    credentials.write_text(
        "[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = ops-secret\n"
        "aws_account_id = 333333333333\n"
    )
    for server in server_of_its_own(
        root / "data", "--auth", "verify", "--credentials", str(credentials)
    ):
        url = f"{server.endpoint}/_shardflow/faults"
        status, _, body = call(server.endpoint, "GET", "/_shardflow/faults", {})
        assert status == 400
        assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
        request = AWSRequest(method="GET", url=url, headers={})
        SigV4Auth(Credentials("AKIAOPS", "ops-secret"), "kinesis", "us-east-1").add_auth(request)
        status, _, body = call(server.endpoint, "GET", "/_shardflow/faults", dict(request.headers))
        assert status == 200, body
        request = AWSRequest(method="GET", url=url, headers={})
        SigV4Auth(Credentials("AKIAOPS", "wrong"), "kinesis", "us-east-1").add_auth(request)
        status, _, body = call(server.endpoint, "GET", "/_shardflow/faults", dict(request.headers))
        assert status == 400
        assert json.loads(body)["__type"] == "InvalidSignatureException"
