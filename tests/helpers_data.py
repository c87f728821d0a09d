"""Shared helpers for the data-plane conformance tests (PutRecord(s), GetShardIterator, GetRecords).

Everything here talks to a running endpoint, so the same tests can be pointed at a peer emulator
or at anything else speaking Kinesis (see ``SHARDFLOW_TEST_ENDPOINT`` in ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "000000000000"  # the account id local Kinesis servers report in their messages
REGION = "us-east-1"
HASH_SPACE = 2**128  # hash keys are 128-bit unsigned integers
MAX_RECORD_BYTES = 1_048_576  # AWS default per-record limit: data + partition key
SEQUENCE_DIGITS = 56  # width of the real service's sequence numbers; tools pattern-match it

# A syntactically valid SigV4 header: servers check its shape, not the signature.
FAKE_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
FAKE_AMZ_DATE = "20260101T000000Z"
TARGET_PREFIX = "Kinesis_20131202."


# --- raw HTTP, for requests boto3 refuses to send (wrong types, missing members) ---------------


def raw_call(
    endpoint: str,
    target: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """POST one JSON 1.1 request and return ``(status, headers, parsed JSON body or None)``.

    ``target`` is the operation name (``"PutRecord"``) or a full ``X-Amz-Target`` value.
    ``body`` is serialised with ``json.dumps`` unless it is already ``bytes``/``str``.
    Header names in the result are lower-cased.
    """
    parts = urlsplit(endpoint)
    if isinstance(body, bytes):
        payload = body
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = json.dumps(body).encode()
    full_target = target if "." in target else TARGET_PREFIX + target
    send_headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": full_target,
        "X-Amz-Date": FAKE_AMZ_DATE,
        "Authorization": FAKE_AUTHORIZATION,
    }
    send_headers.update(headers or {})
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("POST", "/", body=payload, headers=send_headers)
        resp = conn.getresponse()
        raw = resp.read()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, resp_headers, parsed


def error_message(body: dict[str, Any]) -> str:
    """The error message of a JSON error body.

    AWS sends ``message``, except for SerializationException where it has been seen to send
    ``Message``; botocore accepts both, so the tests do too.
    """
    return str(body.get("message", body.get("Message")))


def assert_raw_error(
    result: tuple[int, dict[str, str], Any], error_type: str, message: str | None = None
) -> str:
    """Check a ``raw_call`` result is a 400 of ``error_type``; return its message."""
    status, _headers, body = result
    assert status == 400, (status, body)
    assert isinstance(body, dict), body
    # AWS may qualify the type ("com.amazonaws...#SerializationException"); botocore strips it.
    assert body.get("__type", "").rsplit("#", 1)[-1] == error_type, body
    msg = error_message(body)
    if message is not None:
        assert msg == message
    return msg


def assert_serialization(endpoint: str, target: str, body: Any, message: str) -> None:
    assert_raw_error(raw_call(endpoint, target, body), "SerializationException", message)


# Values of a wrong JSON type, with the message AWS (per kinesalite's recordings) gives for each.
NOT_A_STRING = [
    (True, "class java.lang.Boolean can not be converted to an String"),
    (
        23,
        "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted"
        " to an String",
    ),
    ([], "Start of list found where not expected"),
    ({}, "Start of structure or map found where not expected."),
]
NOT_A_BLOB = [
    (True, "class java.lang.Boolean can not be converted to a Blob"),
    (
        23,
        "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted"
        " to a Blob",
    ),
    ([], "Start of list found where not expected"),
    ({}, "Start of structure or map found where not expected."),
    (
        "23456",
        "'23456' can not be converted to a Blob: "
        "Base64 encoded length is expected a multiple of 4 bytes but found: 5",
    ),
    ("=+/=", "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"),
    (
        "+/+=",
        "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
    ),
]
NOT_AN_INTEGER = [
    ("23", "class java.lang.String can not be converted to an Integer"),
    (True, "class java.lang.Boolean can not be converted to an Integer"),
    ([], "Start of list found where not expected"),
    ({}, "Start of structure or map found where not expected."),
]
NOT_A_LIST = [
    (True, "Expected list or null"),
    (23, "Expected list or null"),
    ("abc", "Expected list or null"),
    ({}, "Start of structure or map found where not expected."),
]
NOT_A_STRUCTURE = [
    (True, "Expected null"),
    (23, "Expected null"),
    ("abc", "Expected null"),
    ([], "Start of list found where not expected"),
]


# --- validation messages ---------------------------------------------------------------------


def pattern_re(pattern: str) -> str:
    """A regex matching ``pattern`` as AWS may quote it in a constraint message.

    kinesalite recorded AWS quoting the bare pattern (``0|([1-9]\\d{0,38})``); the current service
    model anchors it (``^(0|([1-9]\\d{0,38}))$``). Either spelling is accepted until the real
    service is checked again.
    """
    bare = re.escape(pattern)
    anchored = re.escape(f"^({pattern})$")
    return f"(?:{bare}|{anchored})"


def assert_validation(err: ClientError | dict[str, Any], *clauses: str) -> None:
    """Assert a ValidationException listing exactly ``clauses`` (regexes), in any order.

    AWS words it ``N validation error(s) detected: <clause>; <clause>``; the order of clauses
    follows the service's internal member order, which is not part of the contract.
    """
    if isinstance(err, ClientError):
        code = err.response["Error"]["Code"]
        message = err.response["Error"]["Message"]
    else:
        code = err.get("__type", "").rsplit("#", 1)[-1]
        message = error_message(err)
    assert code == "ValidationException", (code, message)
    n = len(clauses)
    prefix = f"{n} validation error{'s' if n > 1 else ''} detected: "
    assert message.startswith(prefix), message
    got = message[len(prefix) :].rstrip(".").split("; ") if n > 1 else [message[len(prefix) :]]
    assert len(got) == n, message
    unmatched = list(got)
    for clause in clauses:
        hit = next((g for g in unmatched if re.fullmatch(clause, g.rstrip("."))), None)
        assert hit is not None, f"no clause matches {clause!r} in {message!r}"
        unmatched.remove(hit)


def clause(value: str | None, member: str, constraint: str) -> str:
    """Regex for one ``Value ... at 'member' failed to satisfy constraint: ...`` clause.

    ``value`` is the literal value (quoted as AWS does), ``None`` for ``Value null``, or ``"*"`` for
    a blob whose value AWS renders either as ``'java.nio.HeapByteBuffer[...]'`` or omits.
    """
    if value is None:
        shown = "Value null"
    elif value == "*":
        shown = r"Value(?: '[^']*')?"
    else:
        shown = "Value " + re.escape(f"'{value}'")
    return (
        f"{shown} at {re.escape(repr(member))} failed to satisfy constraint: "
        f"Member must {constraint}"
    )


NOT_NULL = "not be null"
MIN_LEN_1 = "have length greater than or equal to 1"
STREAM_NAME_PATTERN = "satisfy regular expression pattern: " + pattern_re("[a-zA-Z0-9_.-]+")
HASH_KEY_PATTERN = "satisfy regular expression pattern: " + pattern_re(r"0|([1-9]\d{0,38})")
SEQUENCE_PATTERN = "satisfy regular expression pattern: " + pattern_re(r"0|([1-9]\d{0,128})")


def max_len(n: int) -> str:
    return f"have length less than or equal to {n}"


# --- AWS domain facts ------------------------------------------------------------------------


def md5_hash_key(partition_key: str) -> int:
    """The hash key Kinesis derives from a partition key: MD5 of its UTF-8, big-endian."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def shard_index_for(hash_key: int, shard_count: int) -> int:
    """Index of the shard owning ``hash_key`` in a fresh stream of ``shard_count`` shards.

    Shard i covers [i*step, (i+1)*step - 1] with step = floor(2^128 / N); the last shard
    also takes the remainder up to 2^128 - 1.
    """
    step = HASH_SPACE // shard_count
    return min(hash_key // step, shard_count - 1)


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


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


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{name}"


def not_found_message(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT_ID} not found."


def shard_not_found_message(shard: str, name: str) -> str:
    return f"Shard {shard} in stream {name} under account {ACCOUNT_ID} does not exist"


def client_error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


# --- stream lifecycle ------------------------------------------------------------------------


def fresh_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def temp_stream(kinesis: Any, shard_count: int = 1, name: str | None = None) -> Iterator[str]:
    """Create an ACTIVE stream of ``shard_count`` shards; delete it afterwards."""
    name = name or fresh_name()
    kinesis.create_stream(StreamName=name, ShardCount=shard_count)
    wait_active(kinesis, name)
    try:
        yield name
    finally:
        with contextlib.suppress(kinesis.exceptions.ResourceNotFoundException):
            kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def wait_active(kinesis: Any, name: str) -> None:
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )


def wait_deleted(kinesis: Any, name: str) -> None:
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )


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
