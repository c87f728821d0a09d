"""Dead-letter objects: the identifiers and errors of records a channel could not deliver,
written under the channel's ``ErrorOutputPrefix`` in its dead-letter bucket. The key names
the range of store positions delivered, so a redelivered range rewrites the same object."""

from __future__ import annotations

import asyncio
import time

from shardflow.delivery import formats
from shardflow.delivery.s3 import S3Writer
from shardflow.delivery.source import Delivered
from shardflow.engine.channel_model import Channel

Failure = tuple[Delivered, str, str]  # the record, an error code, a message


async def write(
    s3: S3Writer, channel: Channel, failures: list[Failure], after: int, up_to: int
) -> None:
    if not failures:
        return
    dlq = channel.dead_letter
    t = time.gmtime(failures[0][0].arrival_ms / 1000)
    key = (
        f"{dlq.get('ErrorOutputPrefix', '')}{channel.name}/{t.tm_year:04d}/{t.tm_mon:02d}/"
        f"{t.tm_mday:02d}/{t.tm_hour:02d}/{channel.name}-{channel.channel_id}-{after + 1}-{up_to}"
        ".json"
    )
    body = formats.dead_letter_lines(channel.arn, channel.stream_arn, failures)
    await asyncio.to_thread(s3.put, dlq["BucketARN"], dlq["ExpectedBucketOwner"], key, body, None)
