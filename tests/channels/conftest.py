"""Channel tests: a Shardflow server whose channels deliver to moto's S3 server on loopback and
to an Iceberg warehouse in a temporary directory, fast (``--channel-freshness-scale``)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.consumer.dynamodb import CREDENTIALS, DynamoDBServer
from tests.support import ServerProcess

FRESHNESS_SCALE = 0.004  # 300 s of DataFreshnessInSeconds become 1.2 s
ROLE = "arn:aws:iam::000000000000:role/channel-role"
OWNER = "000000000000"
SCHEMA_ARN = "arn:aws:glue:us-east-1:000000000000:schema/registry/taxi"
TABLE_BUCKET = "arn:aws:s3tables:us-east-1:000000000000:bucket/lake"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBServer]:
    """moto's server on a loopback port (it serves S3 as well as DynamoDB)."""
    with DynamoDBServer(tmp_path_factory.mktemp("moto-s3")) as server:
        yield server


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """Test credentials in this process's environment, which the server processes inherit."""
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def channel_server_args(s3_endpoint: str, warehouse: Path) -> list[str]:
    return [
        "--s3-endpoint-url",
        s3_endpoint,
        "--iceberg-warehouse",
        str(warehouse),
        "--channel-freshness-scale",
        str(FRESHNESS_SCALE),
    ]


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warehouse")


@pytest.fixture(scope="session")
def channel_server(
    tmp_path_factory: pytest.TempPathFactory,
    s3_server: DynamoDBServer,
    aws_credentials: None,
    warehouse: Path,
) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("channel-server") / "data"
    with ServerProcess(data, *channel_server_args(s3_server.endpoint, warehouse)) as server:
        yield server


@pytest.fixture(scope="session")
def kinesis(channel_server: ServerProcess) -> Any:
    return make_client(channel_server.endpoint)


@pytest.fixture(scope="session")
def s3(s3_server: DynamoDBServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket; its ARN is ``arn:aws:s3:::<name>``."""
    name = f"bkt-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def on_demand(kinesis: Any) -> Iterator[dict[str, Any]]:
    """A fresh ACTIVE ON_DEMAND stream: its summary (StreamName, StreamARN, ...)."""
    name = f"ch-{uuid.uuid4().hex[:12]}"
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    yield kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    for c in kinesis.list_channels()["ChannelSummaries"]:
        if c["Streams"][0]["StreamARN"].endswith(f"/{name}"):
            kinesis.delete_channel(ChannelARN=c["ChannelARN"])
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def s3_destination(bucket: str, **storage: Any) -> dict[str, Any]:
    return {
        "StorageConfiguration": {
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "ExpectedBucketOwner": OWNER,
            "CompressionType": "NONE",
            **storage,
        }
    }


def tables_destination(dlq_bucket: str, table: str, namespace: str = "kinesis") -> dict[str, Any]:
    return {
        "DeadLetterQueueS3Configuration": {
            "BucketARN": f"arn:aws:s3:::{dlq_bucket}",
            "ExpectedBucketOwner": OWNER,
        },
        "S3TablesConfigurationList": [
            {
                "TableBucketARN": TABLE_BUCKET,
                "Namespace": namespace,
                "TableName": table,
                "CompressionType": "ZSTD",
            }
        ],
    }


def create_s3_channel(
    kinesis: Any, stream_arn: str, bucket: str, fmt: str = "JSON", **storage: Any
) -> dict[str, Any]:
    return kinesis.create_channel(
        ChannelName=f"s3-{uuid.uuid4().hex[:10]}",
        ServiceExecutionRoleARN=ROLE,
        StreamConfigurationList=[
            {"StreamARN": stream_arn, "RecordConfiguration": {"RecordFormatType": fmt}}
        ],
        S3DestinationConfiguration=s3_destination(bucket, **storage),
    )["ChannelDescription"]


def create_table_channel(
    kinesis: Any, stream_arn: str, dlq_bucket: str, table: str
) -> dict[str, Any]:
    return kinesis.create_channel(
        ChannelName=f"tbl-{uuid.uuid4().hex[:10]}",
        ServiceExecutionRoleARN=ROLE,
        StreamConfigurationList=[
            {
                "StreamARN": stream_arn,
                "RecordConfiguration": {"RecordFormatType": "JSON", "GSRSchemaARN": SCHEMA_ARN},
            }
        ],
        S3TablesDestinationConfiguration=tables_destination(dlq_bucket, table),
    )["ChannelDescription"]


def aws_error(call: Any, **kwargs: Any) -> tuple[str, str]:
    """The (code, message) of the AWS error ``call(**kwargs)`` raises."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def wait_status(kinesis: Any, arn: str, status: str = "ACTIVE", timeout: float = 30) -> dict:
    """The channel's description once it reaches ``status``."""
    deadline = time.monotonic() + timeout
    while True:
        desc = kinesis.describe_channel(ChannelARN=arn)["ChannelDescription"]
        if desc["ChannelStatus"] == status:
            return desc
        if time.monotonic() > deadline:
            raise AssertionError(f"channel still {desc['ChannelStatus']}: {desc}")
        time.sleep(0.1)


def eventually(check: Any, timeout: float = 60, every: float = 0.2) -> Any:
    """``check()``'s first truthy result, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s (last: {result!r})")
        time.sleep(every)
