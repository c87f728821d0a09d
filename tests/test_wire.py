"""The request pipeline over real HTTP: what AWS answers before any operation runs.

Expected statuses, bodies and messages are AWS's as kinesalite recorded them against the real
service (github.com/mhart/kinesalite, test/connection.js and index.js): the order of the checks is
method -> content type -> empty body -> JSON parse -> X-Amz-Target -> authentication shape.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import cbor2
import h2.config
import h2.connection
import h2.events
import pytest

from tests.helpers import (
    FAKE_AMZ_DATE,
    FAKE_AUTHORIZATION,
    JSON_CONTENT_TYPE,
    TARGET_PREFIX,
    RawResult,
    assert_error,
    raw_call,
)

LIST_STREAMS = TARGET_PREFIX + "ListStreams"
MAX_BODY_BYTES = 16 * 1024 * 1024  # Shardflow's request cap (AWS: PutRecords allows 10 MiB)
ACCESS_DENIED_XML = (
    b"<AccessDeniedException>\n"
    b"  <Message>Unable to determine service/operation name to be authorized</Message>\n"
    b"</AccessDeniedException>\n"
)
NO_AUTH = {"Authorization": None, "X-Amz-Date": None}


def connect(endpoint: str, timeout: float = 10) -> http.client.HTTPConnection:
    url = urlsplit(endpoint)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)


def request(
    endpoint: str,
    method: str,
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Any request, exactly as given (no Kinesis defaults); the body comes back unparsed."""
    conn = connect(endpoint)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def assert_request_ids(headers: dict[str, str]) -> None:
    """Every Kinesis response names its request: a UUID, and a 72-byte extended id."""
    uuid.UUID(headers["x-amzn-requestid"])
    assert 72 <= len(base64.b64decode(headers["x-amz-id-2"], validate=True)) <= 80, headers


def assert_json_error(result: RawResult, error_type: str, message: str | None = None) -> None:
    """A 400 JSON error with only ``__type`` (and ``message`` when given), as AWS sends it."""
    _, headers, body = result
    assert_error(result, error_type, message)
    expected: dict[str, Any] = {"__type": error_type}
    if message is not None:
        expected["message"] = message
    assert body == expected
    assert headers["content-type"] == JSON_CONTENT_TYPE
    assert headers["x-amzn-errortype"].startswith(error_type), headers
    assert_request_ids(headers)


# --- authentication shape ----------------------------------------------------------------------


class TestAuthentication:
    def test_missing_authorization(self, endpoint: str) -> None:
        result = raw_call(endpoint, "ListStreams", {}, headers={"Authorization": None})
        assert_json_error(
            result, "MissingAuthenticationTokenException", "Missing Authentication Token"
        )

    def test_authorization_without_any_part_or_date(self, endpoint: str) -> None:
        result = raw_call(
            endpoint, "ListStreams", {}, headers={"Authorization": "X", "X-Amz-Date": None}
        )
        assert_json_error(
            result,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. "
            "Authorization header requires 'Signature' parameter. "
            "Authorization header requires 'SignedHeaders' parameter. "
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            "Authorization=X",
        )

    @pytest.mark.parametrize(
        ("authorization", "missing"),
        [
            ("AWS4-HMAC-SHA256 Signature=b, SignedHeaders=host", "Credential"),
            ("AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host", "Signature"),
            ("AWS4- Signature=b Credential=a", "SignedHeaders"),
            ("AWS4- Signature=b,Credential=a", "SignedHeaders"),
            ("AWS4- Signature=b, Credential=a", "SignedHeaders"),
        ],
    )
    def test_authorization_missing_one_part(
        self, endpoint: str, authorization: str, missing: str
    ) -> None:
        result = raw_call(
            endpoint, "ListStreams", {}, headers={"Authorization": authorization, "Date": "a"}
        )
        assert_json_error(
            result,
            "IncompleteSignatureException",
            f"Authorization header requires '{missing}' parameter. Authorization={authorization}",
        )

    def test_authorization_without_date(self, endpoint: str) -> None:
        result = raw_call(endpoint, "ListStreams", {}, headers={"X-Amz-Date": None})
        assert_json_error(
            result,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={FAKE_AUTHORIZATION}",
        )

    def test_date_header_is_enough(self, endpoint: str) -> None:
        headers = {"X-Amz-Date": None, "Date": "Thu, 01 Jan 2026 00:00:00 GMT"}
        status, _, body = raw_call(endpoint, "ListStreams", {}, headers=headers)
        assert status == 200, body

    @pytest.mark.parametrize(
        "query",
        [
            "X-Amz-Algorithm",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        ],
    )
    def test_authorization_header_and_query(self, endpoint: str, query: str) -> None:
        result = raw_call(endpoint, "ListStreams", {}, path=f"/?{query}")
        assert_json_error(
            result,
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP"
            " header.",
        )

    def test_empty_algorithm_query_without_header(self, endpoint: str) -> None:
        result = raw_call(endpoint, "ListStreams", {}, headers=NO_AUTH, path="/?X-Amz-Algorithm")
        assert_json_error(
            result,
            "IncompleteSignatureException",
            "AWS query-string parameters must include 'X-Amz-Algorithm'. "
            "AWS query-string parameters must include 'X-Amz-Credential'. "
            "AWS query-string parameters must include 'X-Amz-Signature'. "
            "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
            "AWS query-string parameters must include 'X-Amz-Date'. "
            "Re-examine the query-string parameters.",
        )

    def test_query_without_algorithm_is_no_token(self, endpoint: str) -> None:
        path = "/?X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c&X-Amz-Date=d"
        result = raw_call(endpoint, "ListStreams", {}, headers=NO_AUTH, path=path)
        assert_json_error(
            result, "MissingAuthenticationTokenException", "Missing Authentication Token"
        )


# --- method, target, content type, body ----------------------------------------------------------


class TestRouting:
    def test_get_root_is_access_denied_xml(self, endpoint: str) -> None:
        status, headers, body = request(endpoint, "GET")
        assert (status, body) == (403, ACCESS_DENIED_XML)
        assert "content-type" not in headers
        assert_request_ids(headers)

    def test_body_without_content_type_is_access_denied(self, endpoint: str) -> None:
        status, headers, body = request(endpoint, "POST", body=b"{}")
        assert (status, body) == (403, ACCESS_DENIED_XML)
        assert_request_ids(headers)

    @pytest.mark.parametrize(
        "target", ["Kinesis_20131202.ListStream", "Kinesis_20131201.ListStreams", "ListStreams", ""]
    )
    def test_unknown_operation(self, endpoint: str, target: str) -> None:
        result = raw_call(endpoint, target or ".", {}, headers={"X-Amz-Target": target})
        assert_json_error(result, "UnknownOperationException")

    def test_unknown_operation_before_authentication(self, endpoint: str) -> None:
        result = raw_call(endpoint, "Nope", {}, headers=NO_AUTH)
        assert_json_error(result, "UnknownOperationException")

    @pytest.mark.parametrize(
        ("target", "error_type"),
        [
            (LIST_STREAMS, "SerializationException"),
            ("Kinesis_20131202.Nope", "UnknownOperationException"),
        ],
    )
    def test_empty_json_body(self, endpoint: str, target: str, error_type: str) -> None:
        # Checked before authentication: no Authorization needed for this answer.
        result = raw_call(endpoint, target, b"", headers=NO_AUTH)
        assert_json_error(result, error_type)

    @pytest.mark.parametrize(
        ("target", "error_type"),
        [
            (LIST_STREAMS, "SerializationException"),
            ("Kinesis_20131202.Nope", "UnknownOperationException"),
        ],
    )
    def test_empty_body_without_content_type_is_cbor(
        self, endpoint: str, target: str, error_type: str
    ) -> None:
        status, headers, body = request(endpoint, "POST", headers={"X-Amz-Target": target})
        assert status == 400
        assert headers["content-type"] == "application/x-amz-cbor-1.1"
        assert cbor2.loads(body) == {"__type": error_type}
        assert_request_ids(headers)

    def test_non_json_body(self, endpoint: str) -> None:
        result = raw_call(endpoint, "ListStreams", b"hello", headers=NO_AUTH)
        assert_json_error(result, "SerializationException")

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-amz-json-1.0"])
    def test_valid_target_other_content_type_is_404(self, endpoint: str, content_type: str) -> None:
        status, headers, body = raw_call(
            endpoint, "ListStreams", {}, headers={"Content-Type": content_type}
        )
        assert (status, body) == (404, b"<UnknownOperationException/>\n")
        assert_request_ids(headers)

    @pytest.mark.parametrize(
        ("body", "error_type", "message_key"),
        [
            (b"{}", "UnknownOperationException", "message"),
            (b"hello", "SerializationException", "Message"),
        ],
    )
    def test_plain_json_gets_the_coral_envelope(
        self, endpoint: str, body: bytes, error_type: str, message_key: str
    ) -> None:
        status, headers, parsed = raw_call(
            endpoint, "ListStreams", body, headers={"Content-Type": "application/json", **NO_AUTH}
        )
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert parsed == {
            "Output": {"__type": f"com.amazon.coral.service#{error_type}", message_key: None},
            "Version": "1.0",
        }
        assert_request_ids(headers)

    def test_content_type_parameters_are_ignored(self, endpoint: str) -> None:
        headers = {"Content-Type": f"{JSON_CONTENT_TYPE}; charset=utf-8"}
        status, _, body = raw_call(endpoint, "ListStreams", {}, headers=headers)
        assert status == 200, body


# --- responses -----------------------------------------------------------------------------------


class TestResponses:
    def test_success_headers(self, endpoint: str) -> None:
        status, headers, body = raw_call(endpoint, "ListStreams", {})
        assert status == 200, body
        assert headers["content-type"] == JSON_CONTENT_TYPE
        assert "x-amzn-errortype" not in headers
        assert_request_ids(headers)
        assert isinstance(body["StreamNames"], list)

    def test_request_ids_are_unique(self, endpoint: str) -> None:
        ids = {raw_call(endpoint, "ListStreams", {})[1]["x-amzn-requestid"] for _ in range(3)}
        assert len(ids) == 3

    def test_error_type_header(self, endpoint: str) -> None:
        _, headers, _ = raw_call(endpoint, "DescribeStream", {"StreamName": "no-such-stream-xyz"})
        assert headers["x-amzn-errortype"].startswith("ResourceNotFoundException"), headers

    def test_healthz(self, endpoint: str) -> None:
        status, _, _ = request(endpoint, "GET", "/healthz")
        assert status == 200


# --- connection handling -------------------------------------------------------------------------


class TestConnections:
    def test_oversized_body_refused_without_buffering(self, endpoint: str) -> None:
        """Content-Length over the cap: 413 at once, without waiting for the (unsent) body."""
        url = urlsplit(endpoint)
        head = (
            "POST / HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\n"
            f"Content-Type: {JSON_CONTENT_TYPE}\r\n"
            f"X-Amz-Target: {LIST_STREAMS}\r\n"
            f"X-Amz-Date: {FAKE_AMZ_DATE}\r\n"
            f"Authorization: {FAKE_AUTHORIZATION}\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1024 * 1024}\r\n"
            "\r\n"
        )
        started = time.monotonic()
        with socket.create_connection((url.hostname, url.port), timeout=2) as sock:
            sock.sendall(head.encode() + b'{"a":')
            try:
                status_line = sock.makefile("rb").readline()
            except TimeoutError:
                status_line = b"(no answer in 2 s)"
        assert status_line.startswith(b"HTTP/1.1 413"), status_line
        assert time.monotonic() - started < 2

    def test_keep_alive_serves_two_requests(self, endpoint: str) -> None:
        conn = connect(endpoint)
        headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "X-Amz-Target": LIST_STREAMS,
            "X-Amz-Date": FAKE_AMZ_DATE,
            "Authorization": FAKE_AUTHORIZATION,
        }
        try:
            conn.request("POST", "/", body=b"{}", headers=headers)
            first = conn.getresponse()
            assert first.status == 200
            json.loads(first.read())
            sock = conn.sock
            conn.request("POST", "/", body=b"{}", headers=headers)
            second = conn.getresponse()
            assert second.status == 200
            json.loads(second.read())
            assert conn.sock is sock, "the server closed the keep-alive connection"
        finally:
            conn.close()

    def test_h2c_prior_knowledge(self, endpoint: str) -> None:
        url = urlsplit(endpoint)
        h2conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
            h2conn.initiate_connection()
            body = b"{}"
            stream_id = h2conn.get_next_available_stream_id()
            h2conn.send_headers(
                stream_id,
                [
                    (":method", "POST"),
                    (":path", "/"),
                    (":scheme", "http"),
                    (":authority", url.netloc),
                    ("content-type", JSON_CONTENT_TYPE),
                    ("x-amz-target", LIST_STREAMS),
                    ("x-amz-date", FAKE_AMZ_DATE),
                    ("authorization", FAKE_AUTHORIZATION),
                    ("content-length", str(len(body))),
                ],
            )
            h2conn.send_data(stream_id, body, end_stream=True)
            sock.sendall(h2conn.data_to_send())
            headers: dict[str, str] = {}
            data = b""
            ended = False
            while not ended:
                chunk = sock.recv(65536)
                assert chunk, "connection closed before the response ended"
                for event in h2conn.receive_data(chunk):
                    if isinstance(event, h2.events.ResponseReceived):
                        headers = {k.decode(): v.decode() for k, v in event.headers}
                    elif isinstance(event, h2.events.DataReceived):
                        data += event.data
                        h2conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        ended = True
                sock.sendall(h2conn.data_to_send())
        assert headers[":status"] == "200", (headers, data)
        assert headers["content-type"] == JSON_CONTENT_TYPE
        assert_request_ids(headers)
        assert isinstance(json.loads(data)["StreamNames"], list)
