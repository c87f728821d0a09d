"""Shared helpers for the per-operation API tests: raw HTTP calls, AWS error assertions, streams.

The raw path exists for what boto3 refuses to send (wrong JSON types, missing required members):
those cases are the server's job to reject, with AWS's exact error type and message.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
SEQUENCE_NUMBER_RE = re.compile(r"^\d{56}$")  # AWS's width; tools pattern-match it
STREAM_NAME_PATTERN = "[a-zA-Z0-9_.-]+"
STREAM_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:stream/\S+"
WAIT_DELAY_S = 0.1
WAIT_ATTEMPTS = 200


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{name}"


def not_found_message(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT_ID} not found."


def in_use_message(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT_ID} already exists."


def unique_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def expected_hash_ranges(shard_count: int) -> list[tuple[str, str]]:
    """(start, end) per shard at creation: step floor(2^128/N), the last ends at 2^128 - 1."""
    step = HASH_KEY_SPACE // shard_count
    ranges = []
    for i in range(shard_count):
        end = HASH_KEY_SPACE - 1 if i == shard_count - 1 else (i + 1) * step - 1
        ranges.append((str(i * step), str(end)))
    return ranges


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


# --- raw HTTP ------------------------------------------------------------------------------------


def raw_call(
    endpoint: str,
    target: str,
    body: bytes | str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """POST one Kinesis JSON request; return (status, lower-cased headers, parsed body or None).

    ``target`` is the operation name (``CreateStream``) or a full ``X-Amz-Target`` value.
    A dict body is JSON-encoded; bytes or str are sent as they are.
    """
    if body is None:
        body = {}
    payload = (
        body
        if isinstance(body, bytes)
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    full_target = target if "." in target else TARGET_PREFIX + target
    all_headers = {
        "Content-Type": JSON_CONTENT_TYPE,
        "X-Amz-Target": full_target,
        "X-Amz-Date": FAKE_AMZ_DATE,
        "Authorization": FAKE_AUTHORIZATION,
    }
    all_headers.update(headers or {})
    url = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=10)
    try:
        conn.request("POST", "/", body=payload, headers=all_headers)
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
    result: tuple[int, dict[str, str], Any],
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


def validation_message(value: Any, member: str, constraint: str) -> str:
    """One Coral constraint line: Value 'x' at 'member' failed to satisfy constraint: ..."""
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{member}' failed to satisfy constraint: {constraint}"


def pattern_constraint(pattern: str = STREAM_NAME_PATTERN) -> str:
    return f"Member must satisfy regular expression pattern: {pattern}"


NOT_NULL = "Member must not be null"


def min_length(n: int) -> str:
    return f"Member must have length greater than or equal to {n}"


def max_length(n: int) -> str:
    return f"Member must have length less than or equal to {n}"


def min_value(n: int) -> str:
    return f"Member must have value greater than or equal to {n}"


def max_value(n: int) -> str:
    return f"Member must have value less than or equal to {n}"


def assert_validation(result: tuple[int, dict[str, str], Any], messages: list[str]) -> None:
    """ValidationException listing exactly ``messages``, in any order (AWS's order is unstable)."""
    assert_error(result, "ValidationException")
    text = error_message(result[2]) or ""
    n = len(messages)
    prefix = f"{n} validation {'error' if n == 1 else 'errors'} detected: "
    assert text.startswith(prefix), text
    assert sorted(text[len(prefix) :].split("; ")) == sorted(messages), text


def assert_enum_validation(
    result: tuple[int, dict[str, str], Any], value: str, member: str, allowed: list[str]
) -> None:
    """One enum violation; the listed value set is compared as a set (AWS's order is not the
    model's)."""
    assert_error(result, "ValidationException")
    text = error_message(result[2]) or ""
    head = "1 validation error detected: " + validation_message(
        value, member, "Member must satisfy enum value set: ["
    )
    assert text.startswith(head) and text.endswith("]"), text
    assert sorted(text[len(head) : -1].split(", ")) == sorted(allowed), text


# --- wrong JSON types: AWS's SerializationException messages ----------------------------------

_NUM = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_LIST = "Start of list found where not expected"
_STRUCT = "Start of structure or map found where not expected."

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
        ([], _LIST),
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


def assert_serialization(result: tuple[int, dict[str, str], Any], message: str) -> None:
    assert_error(result, "SerializationException", message)


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


def client_error(excinfo: Any) -> tuple[str, str]:
    """(code, message) of a botocore ClientError caught by pytest.raises."""
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]
