"""Shard ids and stream ARNs."""

from __future__ import annotations

import re

SHARD_ID_PREFIX = "shardId-"
MAX_SHARD_INDEX = 2**31 - 1  # AWS parses a shard id's number as a 32-bit int
_SHARD_ID_RE = re.compile(r"^shardId-(\d{12})$")
_LOOSE_SHARD_ID_RE = re.compile(r"^(?:.*-)?(\d+)$")
_STREAM_ARN_RE = re.compile(
    r"^arn:aws[a-z\-]*:kinesis:([a-z0-9\-]+):(\d{12}):stream/([a-zA-Z0-9_.\-]+)$"
)


def shard_id(index: int) -> str:
    """``shardId-`` and the 12-digit zero-padded index, as AWS names shards."""
    return f"{SHARD_ID_PREFIX}{index:012d}"


def shard_index(shard_id_text: str) -> int | None:
    """The index in a shard id as AWS reads one, else None.

    AWS also accepts a bare number or any text ending in ``-`` and digits (``shardId-1`` and
    ``a-0001`` mean shard 1); anything else (``ABKLFD8``, ``2.14E4``) or a number past a 32-bit
    int (``2147483648``) is no shard id at all: "Could not find shard ..." (kinesalite's
    recordings of AWS).
    """
    match = _SHARD_ID_RE.match(shard_id_text) or _LOOSE_SHARD_ID_RE.match(shard_id_text)
    if match is None:
        return None
    index = int(match.group(1))
    return index if index <= MAX_SHARD_INDEX else None


def no_such_shard(shard_id_text: str, stream_name: str, account: str) -> str:
    """AWS's message for a ShardId that is no shard id (see ``shard_index``)."""
    return f"Could not find shard {shard_id_text} in stream {stream_name} under account {account}."


def stream_arn(region: str, account_id: str, stream_name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account_id}:stream/{stream_name}"


def parse_stream_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account id, stream name) of a stream ARN, or None if it is not one."""
    match = _STREAM_ARN_RE.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def queue_arn(region: str, account_id: str, queue_id: str) -> str:
    """A queue's ARN: its resource id is generated, not derived from the queue's name."""
    return f"arn:aws:kinesis:{region}:{account_id}:queue/{queue_id}"


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
