"""AWS's per-record size rule, in one place for the server, the producers and the workloads.

A record's size is its data plus its partition key encoded as UTF-8, in bytes: the quantity
AWS checks against the stream's MaxRecordSizeInKiB (1 MiB unless raised) and that counts
toward a PutRecords call's 5 MiB and a shard's 1 MiB/s of writes.
"""

from __future__ import annotations

MAX_RECORD_BYTES = 1_048_576  # AWS: data + partition key of one record, by default (1 MiB)
MAX_REQUEST_RECORDS = 500  # AWS: entries in one PutRecords call
MAX_REQUEST_BYTES = 5 * 1_048_576  # AWS: one PutRecords call, data and partition keys


def record_size(data: bytes, partition_key: str) -> int:
    """Bytes a record counts against every Kinesis size limit: data + UTF-8 partition key."""
    if partition_key.isascii():  # the common case: one byte a character, no encoding needed
        return len(data) + len(partition_key)
    return len(data) + len(partition_key.encode("utf-8"))
