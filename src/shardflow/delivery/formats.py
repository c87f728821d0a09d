"""Record formats and compression of S3 deliveries, and the dead-letter lines of bad records.

AWS validates before delivering: STRING records must be UTF-8 and JSON records valid JSON;
the others go to the dead-letter queue. Objects hold many records: JSON and STRING records one
per line (a JSON record that spans lines is written compact), BYTE_ARRAY records concatenated
as sent. Dead-letter lines carry the record's identifiers and the error, not its data, as AWS
documents.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable

import orjson

from shardflow.delivery.source import Delivered

EXTENSIONS = {"JSON": ".json", "STRING": ".txt", "BYTE_ARRAY": ".bin"}
COMPRESSED_EXTENSIONS = {"NONE": "", "GZIP": ".gz", "ZSTD": ".zst"}


def problem(record_format: str, data: bytes) -> str | None:
    """Why a record cannot be delivered in ``record_format``, or None."""
    if record_format == "STRING":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"The record is not valid UTF-8 ({exc.reason} at byte {exc.start})."
    elif record_format == "JSON":
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return f"The record is not valid JSON ({exc})."
    return None


def body(record_format: str, records: Iterable[Delivered]) -> bytes:
    """The uncompressed object of valid records."""
    if record_format == "BYTE_ARRAY":
        return b"".join(r.data for r in records)
    lines = []
    for r in records:
        data = r.data.strip()
        if record_format == "JSON" and b"\n" in data:
            data = orjson.dumps(orjson.loads(data))
        lines.append(data + b"\n")
    return b"".join(lines)


def compress(compression: str, data: bytes) -> bytes:
    if compression == "GZIP":
        return gzip.compress(data, compresslevel=6)
    if compression == "ZSTD":
        import zstandard  # the channels extra; imported only by a ZSTD channel

        return zstandard.ZstdCompressor().compress(data)
    return data


def extension(record_format: str, compression: str) -> str:
    return EXTENSIONS[record_format] + COMPRESSED_EXTENSIONS[compression]


def dead_letter_lines(
    channel_arn: str, stream_arn: str, failures: list[tuple[Delivered, str, str]]
) -> bytes:
    """One JSON line per failed record: identifiers and error context, no payload."""
    return b"".join(
        orjson.dumps(
            {
                "channelArn": channel_arn,
                "streamArn": stream_arn,
                "shardId": r.shard_id,
                "sequenceNumber": r.sequence_number,
                "subSequenceNumber": r.subsequence,
                "partitionKey": r.partition_key,
                "approximateArrivalTimestamp": r.arrival_ms,
                "errorCode": code,
                "errorMessage": message,
            }
        )
        + b"\n"
        for r, code, message in failures
    )
