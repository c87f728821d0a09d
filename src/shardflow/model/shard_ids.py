"""Shard ids and stream ARNs."""

from __future__ import annotations

import re

SHARD_ID_PREFIX = "shardId-"
_SHARD_ID_RE = re.compile(r"^shardId-(\d{12})$")
_STREAM_ARN_RE = re.compile(
    r"^arn:aws[a-z\-]*:kinesis:([a-z0-9\-]+):(\d{12}):stream/([a-zA-Z0-9_.\-]+)$"
)


def shard_id(index: int) -> str:
    """``shardId-`` and the 12-digit zero-padded index, as AWS names shards."""
    return f"{SHARD_ID_PREFIX}{index:012d}"


def shard_index(shard_id_text: str) -> int | None:
    """The index in a well-formed shard id, else None.

    AWS also accepts a bare number or any text ending in digits for ShardId fields
    (``shardId-1`` means shard 1): this returns the trailing number in that case.
    """
    match = _SHARD_ID_RE.match(shard_id_text)
    if match:
        return int(match.group(1))
    digits = re.search(r"(\d+)$", shard_id_text)
    return int(digits.group(1)) if digits else None


def stream_arn(region: str, account_id: str, stream_name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account_id}:stream/{stream_name}"


def parse_stream_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account id, stream name) of a stream ARN, or None if it is not one."""
    match = _STREAM_ARN_RE.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def channel_arn(region: str, account_id: str, channel_name: str) -> str:
    """A channel's ARN: ``arn:aws:kinesis:<region>:<account>:channel/<name>``."""
    return f"arn:aws:kinesis:{region}:{account_id}:channel/{channel_name}"


_CHANNEL_ARN_RE = re.compile(
    r"^arn:aws[a-z\-]*:kinesis:([a-z0-9\-]+):(\d{12}):channel/([a-zA-Z0-9_.\-]+)$"
)


def parse_channel_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account id, channel name) of a channel ARN, or None if it is not one."""
    match = _CHANNEL_ARN_RE.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None
