"""The rules of a CreateChannel/UpdateChannel destination, with AWS's error types: record
formats per destination type, DataFreshnessInSeconds (300-900, default 300), the S3 key
template, one table and one stream per channel, and the defaults a description shows."""

from __future__ import annotations

from typing import Any

from shardflow import errors
from shardflow.engine.channel_model import (
    DEFAULT_ERROR_PREFIX,
    DEFAULT_FRESHNESS_S,
    MAX_FRESHNESS_S,
    MIN_FRESHNESS_S,
    S3_TABLES,
    Channel,
)
from shardflow.engine.streams import Stream
from shardflow.model import key_template

SERVICE_KEY_ALIASES = ("aws/kinesis", "alias/aws/kinesis")  # AWS: not for channel encryption


def invalid(path: str, value: object, constraint: str) -> errors.KinesisError:
    """AWS's one-violation ValidationException (the model does not bound these fields)."""
    return errors.ValidationException(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy"
        f" constraint: {constraint}"
    )


def check_encryption(encryption: dict[str, Any] | None) -> None:
    """AWS: a channel's key must be a customer managed key."""
    if encryption is not None and encryption["KeyId"] in SERVICE_KEY_ALIASES:
        raise errors.ValidationException(
            "EncryptionConfiguration.KeyId must be a customer managed key: the Kinesis Data"
            " Streams service key (aws/kinesis) cannot encrypt channel deliveries."
        )


def freshness(config: dict[str, Any], path: str) -> int:
    """The destination's DataFreshnessInSeconds (300-900), 300 when not given."""
    value = config.get("DataFreshnessInSeconds")
    if value is None:
        return DEFAULT_FRESHNESS_S
    where = f"{path}.dataFreshnessInSeconds"
    if value < MIN_FRESHNESS_S:
        raise invalid(
            where, value, f"Member must have value greater than or equal to {MIN_FRESHNESS_S}"
        )
    if value > MAX_FRESHNESS_S:
        raise invalid(
            where, value, f"Member must have value less than or equal to {MAX_FRESHNESS_S}"
        )
    return int(value)


def s3_destination(config: dict[str, Any], fmt: str) -> dict[str, Any]:
    if fmt == "GSR_JSON":
        raise errors.ValidationException(
            "RecordFormatType GSR_JSON is supported only for streaming table (S3 Tables)"
            " destinations; general purpose Amazon S3 destinations take JSON, STRING or"
            " BYTE_ARRAY."
        )
    storage = dict(config["StorageConfiguration"])
    template = storage.get("OutputKeyTemplate")
    if template is not None:
        why = key_template.problem(template)
        if why is not None:
            raise errors.ValidationException(why)
    dlq = config.get("DeadLetterQueueS3Configuration") or {
        "BucketARN": storage["BucketARN"],
        "ExpectedBucketOwner": storage["ExpectedBucketOwner"],
    }
    dlq = {"ErrorOutputPrefix": DEFAULT_ERROR_PREFIX, **dlq}
    return {
        "DataFreshnessInSeconds": freshness(config, "s3DestinationConfiguration"),
        "DeadLetterQueueS3Configuration": dlq,
        "StorageConfiguration": storage,
    }


def tables_destination(config: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    fmt = record["RecordFormatType"]
    if fmt in ("STRING", "BYTE_ARRAY"):
        raise errors.ValidationException(
            f"RecordFormatType {fmt} is supported only for general purpose Amazon S3"
            " destinations; streaming table destinations take JSON or GSR_JSON."
        )
    if fmt == "GSR_JSON":
        raise errors.ValidationException(
            "RecordFormatType GSR_JSON needs the AWS Glue Schema Registry to resolve the"
            " schema id embedded in each record, and this server has no schema registry:"
            " use JSON (the table's schema is taken from the first record delivered)."
        )
    if record.get("GSRSchemaARN") is None:
        raise errors.ValidationException(
            "RecordConfiguration.GSRSchemaARN is required when the channel destination is"
            " a streaming table."
        )
    tables = config["S3TablesConfigurationList"]
    if len(tables) != 1:
        raise errors.ValidationException(
            "S3TablesConfigurationList must contain exactly one table: a channel delivers"
            " to one table."
        )
    for table in tables:
        for field in (table.get("PartitionSpec") or {}).get("PartitionFields", []):
            if "." in field["SourceName"]:
                raise errors.ValidationException(
                    f"PartitionSpec SourceName {field['SourceName']} must name a top-level"
                    " field of the records."
                )
    dlq = {
        "ErrorOutputPrefix": DEFAULT_ERROR_PREFIX,
        **config["DeadLetterQueueS3Configuration"],
    }
    return {
        "DataFreshnessInSeconds": freshness(config, "s3TablesDestinationConfiguration"),
        "DeadLetterQueueS3Configuration": dlq,
        "S3TablesConfigurationList": [dict(t) for t in tables],
    }


def check_stream(stream: Stream, account: str) -> None:
    """A channel's source: an ON_DEMAND stream, ACTIVE or UPDATING."""
    if stream.mode != "ON_DEMAND":
        raise errors.ValidationException(
            f"Stream {stream.name} under account {account} uses the PROVISIONED"
            " capacity mode; channels are supported only for streams with the ON_DEMAND"
            " capacity mode."
        )
    status = stream.current_status()
    if status not in ("ACTIVE", "UPDATING"):
        raise errors.ResourceInUseException(
            f"Stream {stream.name} under account {account} not ACTIVE, instead in state {status}"
        )


def check_table_free(destination: dict[str, Any], live: list[Channel]) -> None:
    """A table is created by one channel and delivered to by it alone (AWS)."""
    wanted = _table_of(destination)
    for other in live:
        if other.destination_type == S3_TABLES and _table_of(other.destination) == wanted:
            raise errors.ResourceInUseException(
                f"Table {wanted[1]}.{wanted[2]} of table bucket"
                f" {wanted[0].rsplit('/', 1)[1]} is already the"
                f" destination of channel {other.name}."
            )


def _table_of(destination: dict[str, Any]) -> tuple[str, str, str]:
    table = destination["S3TablesConfigurationList"][0]
    return table["TableBucketARN"], table["Namespace"], table["TableName"]
