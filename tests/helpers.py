"""Shared helpers for the per-operation tests: raw HTTP calls, AWS error assertions, AWS facts,
streams.

Everything here talks to a running endpoint, so the same tests can be pointed at a peer emulator
or at anything else speaking Kinesis (see ``SHARDFLOW_TEST_ENDPOINT`` in ``conftest.py``). The raw
path exists for what boto3 refuses to send (wrong JSON types, missing required members): those
cases are the server's job to reject, with AWS's exact error type and message.

The AWS facts (shard ids, hash-key ranges, MD5 routing, ARNs, messages) are computed here on their
own rather than taken from ``shardflow.model``, so the tests stay an independent check of it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "000000000000"  # the account id every local Kinesis (and AWS's docs) use
REGION = "us-east-1"
TARGET_PREFIX = "Kinesis_20131202."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# Syntactically valid SigV4 header: servers check its shape, never the signature.
FAKE_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
FAKE_AMZ_DATE = "20260101T000000Z"

HASH_KEY_SPACE = 2**128  # MD5 hash keys: [0, 2^128 - 1]
MAX_RECORD_BYTES = 1_048_576  # AWS default per-record limit: data + partition key
SEQUENCE_DIGITS = 56  # width of the real service's sequence numbers; tools pattern-match it
STREAM_NAME_PATTERN = "[a-zA-Z0-9_.-]+"
STREAM_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:stream/\S+"
# A dry run that would have succeeded: AWS publishes no message, so this is the model's
# description of DryRunOperationException (botocore's service-2.json).
DRY_RUN_MESSAGE = "The request was rejected because the DryRun parameter was specified."
WAIT_DELAY_S = 0.1
WAIT_ATTEMPTS = 200

RawResult = tuple[int, dict[str, str], Any]


# --- AWS domain facts ----------------------------------------------------------------------------


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{name}"


def not_found_message(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT_ID} not found."


def in_use_message(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT_ID} already exists."


def shard_not_found_message(shard: str, name: str) -> str:
    return f"Shard {shard} in stream {name} under account {ACCOUNT_ID} does not exist"


def unique_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def expected_hash_ranges(shard_count: int) -> list[tuple[str, str]]:
    """(start, end) per shard at creation: step floor(2^128/N), the last ends at 2^128 - 1."""
    step = HASH_KEY_SPACE // shard_count
    ranges = []
    for i in range(shard_count):
        end = HASH_KEY_SPACE - 1 if i == shard_count - 1 else (i + 1) * step - 1
        ranges.append((str(i * step), str(end)))
    return ranges


def md5_hash_key(partition_key: str) -> int:
    """The hash key Kinesis derives from a partition key: MD5 of its UTF-8, big-endian."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_index_for(hash_key: int, shard_count: int) -> int:
    """Index of the shard owning ``hash_key`` in a fresh stream of ``shard_count`` shards
    (the ranges of ``expected_hash_ranges``)."""
    return min(hash_key // (HASH_KEY_SPACE // shard_count), shard_count - 1)


def key_for_shard(index: int, shard_count: int, prefix: str = "k") -> str:
    """A partition key whose MD5 lands in shard ``index`` of an N-shard stream."""
    for i in range(100_000):
        key = f"{prefix}{i}"
        if shard_index_for(md5_hash_key(key), shard_count) == index:
            return key
    raise AssertionError("no key found")  # pragma: no cover - 100k tries never all miss


def assert_sequence_number(seq: str) -> int:
    """Check the shape AWS clients rely on (56 decimal digits); return it as an int."""
    assert isinstance(seq, str), seq
    assert re.fullmatch(rf"[1-9]\d{{{SEQUENCE_DIGITS - 1}}}", seq), seq
    return int(seq)


# --- raw HTTP ------------------------------------------------------------------------------------


def raw_call(
    endpoint: str,
    target: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str | None] | None = None,
    path: str = "/",
) -> RawResult:
    """POST one Kinesis JSON request; return (status, lower-cased headers, parsed body or None).

    ``target`` is the operation name (``CreateStream``) or a full ``X-Amz-Target`` value.
    A dict body is JSON-encoded; bytes or str are sent as they are. A response body that is not
    JSON comes back as bytes. ``headers`` override the defaults; a None value leaves that header
    out.
    """
    if body is None:
        body = {}
    if isinstance(body, bytes):
        payload = body
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = json.dumps(body).encode()
    full_target = target if "." in target else TARGET_PREFIX + target
    all_headers: dict[str, str | None] = {
        "Content-Type": JSON_CONTENT_TYPE,
        "X-Amz-Target": full_target,
        "X-Amz-Date": FAKE_AMZ_DATE,
        "Authorization": FAKE_AUTHORIZATION,
    }
    all_headers.update(headers or {})
    sent = {k: v for k, v in all_headers.items() if v is not None}
    url = urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=30)
    try:
        conn.request("POST", path, body=payload, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    parsed: Any = None
    if data:
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = data
    return resp.status, resp_headers, parsed


# --- AWS errors ----------------------------------------------------------------------------------


def error_message(body: Any) -> str | None:
    """The message of an AWS JSON error body.

    AWS sends ``message`` for most errors but ``Message`` for SerializationException (kinesalite
    recorded it that way); clients read either, so either is accepted here.
    """
    if not isinstance(body, dict):
        return None
    msg = body.get("message", body.get("Message"))
    return msg if isinstance(msg, str) else None


def error_type(body: Any) -> str | None:
    """``__type`` without any ``namespace#`` prefix, as clients read it."""
    if not isinstance(body, dict) or not isinstance(body.get("__type"), str):
        return None
    return str(body["__type"]).rsplit("#", 1)[-1]


def assert_error(
    result: RawResult,
    expected_type: str,
    message: str | re.Pattern[str] | None = None,
    status: int = 400,
) -> None:
    got_status, _, body = result
    assert (got_status, error_type(body)) == (status, expected_type), body
    if isinstance(message, re.Pattern):
        assert message.fullmatch(error_message(body) or ""), body
    elif message is not None:
        assert error_message(body) == message, body


def client_error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    """(code, message) of a botocore ClientError caught by pytest.raises."""
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


# --- wrong JSON types: AWS's SerializationException messages ----------------------------------

_NUM = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_LIST = "Start of list found where not expected"
_STRUCT = "Start of structure or map found where not expected."
_BLOB = "can not be converted to a Blob"

# Values of a wrong JSON type per model type, with the message AWS (per kinesalite's
# recordings) gives for each.
SERIALIZATION_CASES: dict[str, list[tuple[Any, str]]] = {
    "String": [
        (True, "class java.lang.Boolean can not be converted to an String"),
        (23, f"{_NUM} can not be converted to an String"),
        (-2147483648, f"{_NUM} can not be converted to an String"),
        (2147483648, f"{_NUM} can not be converted to an String"),
        (34.56, f"{_NUM} can not be converted to an String"),
        ([], _LIST),
        ({}, _STRUCT),
    ],
    "Integer": [
        ("23", "class java.lang.String can not be converted to an Integer"),
        (True, "class java.lang.Boolean can not be converted to an Integer"),
        ([], _LIST),
        ({}, _STRUCT),
    ],
    "Boolean": [
        ("23", "'23' can not be converted to an Boolean"),
        (23, f"{_NUM} can not be converted to an Boolean"),
        ([], _LIST),
        ({}, _STRUCT),
    ],
    "Timestamp": [
        (True, "class java.lang.Boolean can not be converted to milliseconds since epoch"),
        ("abc", "class java.lang.String can not be converted to milliseconds since epoch"),
        ([], _LIST),
        ({}, _STRUCT),
    ],
    "Blob": [
        (True, f"class java.lang.Boolean {_BLOB}"),
        (23, f"{_NUM} {_BLOB}"),
        ([], _LIST),
        ({}, _STRUCT),
        (
            "23456",
            f"'23456' {_BLOB}: "
            "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
        ),
        ("=+/=", f"'=+/=' {_BLOB}: Invalid Base64 character: '='"),
        ("+/+=", f"'+/+=' {_BLOB}: Invalid last non-pad Base64 character dectected"),
    ],
    "List": [
        (True, "Expected list or null"),
        (23, "Expected list or null"),
        ("abc", "Expected list or null"),
        ({}, _STRUCT),
    ],
    "Map": [
        ("23", "Expected map or null"),
        (True, "Expected map or null"),
        (23, "Expected map or null"),
        ([], _LIST),
    ],
    "Structure": [
        ("23", "Expected null"),
        (True, "Expected null"),
        (23, "Expected null"),
        ([], _LIST),
    ],
}


def serialization_params(fields: dict[str, str]) -> list[tuple[str, Any, str]]:
    """pytest parameters (field path, bad value, message) for {dotted field path: type name}."""
    return [
        (path, value, msg)
        for path, type_name in fields.items()
        for value, msg in SERIALIZATION_CASES[type_name]
    ]


def nested(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """``nested("ShardFilter.Type", 1)`` -> ``{"ShardFilter": {"Type": 1}}`` (merged into base)."""
    body: dict[str, Any] = dict(base or {})
    node = body
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return body


def assert_serialization(result: RawResult, message: str) -> None:
    assert_error(result, "SerializationException", message)


# --- validation messages -------------------------------------------------------------------------

NOT_NULL = "Member must not be null"
# A blob's value as AWS quotes it: ``'java.nio.HeapByteBuffer[...]'``, or left out.
ANY_BLOB = object()


def min_length(n: int) -> str:
    return f"Member must have length greater than or equal to {n}"


def max_length(n: int) -> str:
    return f"Member must have length less than or equal to {n}"


def min_value(n: int) -> str:
    return f"Member must have value greater than or equal to {n}"


def max_value(n: int) -> str:
    return f"Member must have value less than or equal to {n}"


def pattern_constraint(pattern: str = STREAM_NAME_PATTERN) -> str:
    return f"Member must satisfy regular expression pattern: {pattern}"


def model_pattern_constraint(pattern: str) -> re.Pattern[str]:
    """A pattern constraint AWS may quote bare or anchored.

    kinesalite recorded AWS quoting the bare pattern (``0|([1-9]\\d{0,38})``); the current service
    model anchors it (``^(0|([1-9]\\d{0,38}))$``). Either spelling is accepted until the real
    service is checked again.
    """
    either = f"(?:{re.escape(pattern)}|{re.escape(f'^({pattern})$')})"
    return re.compile(re.escape(pattern_constraint("")) + either)


HASH_KEY_CONSTRAINT = model_pattern_constraint(r"0|([1-9]\d{0,38})")
SEQUENCE_CONSTRAINT = model_pattern_constraint(r"0|([1-9]\d{0,128})")


def validation_message(
    value: Any, member: str, constraint: str | re.Pattern[str]
) -> str | re.Pattern[str]:
    """One Coral constraint line: Value 'x' at 'member' failed to satisfy constraint: ...

    ``value`` None renders as ``Value null``; ``ANY_BLOB`` or a regex ``constraint`` make the
    line a regex.
    """
    if value is None:
        shown = "Value null"
    elif value is ANY_BLOB:
        shown = ""
    else:
        shown = f"Value '{value}'"
    line = f"{shown} at '{member}' failed to satisfy constraint: "
    if value is not ANY_BLOB and isinstance(constraint, str):
        return line + constraint
    head = r"Value(?: '[^']*')?" + re.escape(line) if value is ANY_BLOB else re.escape(line)
    tail = constraint.pattern if isinstance(constraint, re.Pattern) else re.escape(constraint)
    return re.compile(head + tail)


def _validation_text(response: RawResult | dict[str, Any] | ClientError) -> str:
    """The message of a ValidationException given as a raw result, a raw body or a ClientError."""
    if isinstance(response, ClientError):
        code = response.response["Error"]["Code"]
        text = response.response["Error"]["Message"]
        assert code == "ValidationException", (code, text)
        return text
    if isinstance(response, dict):
        response = (400, {}, response)
    assert_error(response, "ValidationException")
    return error_message(response[2]) or ""


def assert_validation(
    response: RawResult | dict[str, Any] | ClientError,
    messages: list[str | re.Pattern[str]],
) -> None:
    """ValidationException listing exactly ``messages``, in any order (AWS's order is unstable).

    Each message is a string to match exactly or a regex to match in full.
    """
    text = _validation_text(response)
    n = len(messages)
    prefix = f"{n} validation {'error' if n == 1 else 'errors'} detected: "
    assert text.startswith(prefix), text
    unmatched = text[len(prefix) :].split("; ")
    assert len(unmatched) == n, text
    exact = [m for m in messages if isinstance(m, str)]
    patterns = [m for m in messages if isinstance(m, re.Pattern)]
    for expected in exact:
        assert expected in unmatched, f"{expected!r} not in {text!r}"
        unmatched.remove(expected)
    for pattern in patterns:
        hit = next((got for got in unmatched if pattern.fullmatch(got)), None)
        assert hit is not None, f"no line matches {pattern.pattern!r} in {text!r}"
        unmatched.remove(hit)


def assert_enum_validation(
    response: RawResult | ClientError, value: str, member: str, allowed: list[str]
) -> None:
    """One enum violation; the listed value set is compared as a set (AWS's order is not the
    model's)."""
    text = _validation_text(response)
    head = "1 validation error detected: " + str(
        validation_message(value, member, "Member must satisfy enum value set: [")
    )
    assert text.startswith(head) and text.endswith("]"), text
    assert sorted(text[len(head) : -1].split(", ")) == sorted(allowed), text


# --- streams -------------------------------------------------------------------------------------


def wait_active(kinesis: Any, name: str) -> dict[str, Any]:
    """Poll DescribeStreamSummary until ACTIVE; return the summary."""
    for _ in range(WAIT_ATTEMPTS):
        summary: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"
        ]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        time.sleep(WAIT_DELAY_S)
    raise AssertionError(f"stream {name} not ACTIVE after {WAIT_ATTEMPTS * WAIT_DELAY_S:.0f}s")


def wait_deleted(kinesis: Any, name: str) -> None:
    for _ in range(WAIT_ATTEMPTS):
        try:
            kinesis.describe_stream_summary(StreamName=name)
        except kinesis.exceptions.ResourceNotFoundException:
            return
        time.sleep(WAIT_DELAY_S)
    raise AssertionError(f"stream {name} still exists after {WAIT_ATTEMPTS * WAIT_DELAY_S:.0f}s")


class StreamPool:
    """Creates streams for one test and deletes whatever is left of them afterwards."""

    def __init__(self, kinesis: Any) -> None:
        self.kinesis = kinesis
        self.names: list[str] = []

    def create(self, name: str | None = None, wait: bool = True, **kwargs: Any) -> str:
        name = name or unique_name()
        if "ShardCount" not in kwargs and "StreamModeDetails" not in kwargs:
            kwargs["ShardCount"] = 1
        self.kinesis.create_stream(StreamName=name, **kwargs)
        self.names.append(name)
        if wait:
            wait_active(self.kinesis, name)
        return name

    def reserve(self, name: str | None = None) -> str:
        """A fresh name to put in a request meant to fail: deleted afterwards in case it was not."""
        name = name or unique_name()
        self.names.append(name)
        return name

    def close(self) -> None:
        for name in self.names:
            try:
                self.kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            except self.kinesis.exceptions.ResourceNotFoundException:
                pass
            except self.kinesis.exceptions.ResourceInUseException:
                # still CREATING on a slow server: wait, then retry once
                wait_active(self.kinesis, name)
                self.kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


@contextmanager
def stream_pool(kinesis: Any) -> Iterator[StreamPool]:
    pool = StreamPool(kinesis)
    try:
        yield pool
    finally:
        pool.close()


@contextmanager
def temp_stream(kinesis: Any, shard_count: int = 1, name: str | None = None) -> Iterator[str]:
    """Create an ACTIVE stream of ``shard_count`` shards; delete it afterwards."""
    with stream_pool(kinesis) as pool:
        yield pool.create(name, ShardCount=shard_count)


# --- records -------------------------------------------------------------------------------------


def put_to_shard(
    kinesis: Any, name: str, index: int, data: bytes, shard_count: int = 2
) -> dict[str, Any]:
    """PutRecord with a partition key that routes to shard ``index`` (by MD5, computed here)."""
    resp: dict[str, Any] = kinesis.put_record(
        StreamName=name, PartitionKey=key_for_shard(index, shard_count), Data=data
    )
    return resp


def iterator(kinesis: Any, name: str, shard: str, kind: str = "TRIM_HORIZON", **kw: Any) -> str:
    resp = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind, **kw)
    return str(resp["ShardIterator"])


def read_all(kinesis: Any, shard_iterator: str, max_calls: int = 20) -> list[dict[str, Any]]:
    """Follow NextShardIterator until a call returns no records (or ``max_calls``)."""
    records: list[dict[str, Any]] = []
    it: str | None = shard_iterator
    for _ in range(max_calls):
        if it is None:
            break
        resp = kinesis.get_records(ShardIterator=it)
        if not resp["Records"]:
            break
        records.extend(resp["Records"])
        it = resp.get("NextShardIterator")
    return records


def raw_subscribe(port: int, consumer_arn: str, starting_type: str) -> socket.socket:
    """A SubscribeToShard on shard 0 over a raw HTTP/1.1 socket with a 4 KiB receive buffer:
    the caller decides whether to read it (the fan-out back-pressure tests never do)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    body = json.dumps(
        {
            "ConsumerARN": consumer_arn,
            "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": starting_type},
        }
    ).encode()
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"X-Amz-Target: Kinesis_20131202.SubscribeToShard\r\n"
        + f"X-Amz-Date: {FAKE_AMZ_DATE}\r\nAuthorization: {FAKE_AUTHORIZATION}\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock
