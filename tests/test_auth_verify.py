"""`--auth verify`: every request's SigV4 signature is checked against `--credentials`, with
AWS's errors, and another account's stream is reached only through its resource policy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.config import Config as BotoConfig

from tests.support import ServerProcess, server_of_its_own
from tests.test_js_sdk import JS_DIR, _js_env, _run_script, node  # noqa: F401 - fixture

OWNER = ("AKIAOWNEREXAMPLE0001", "owner-secret", "111111111111")
OTHER = ("AKIAOTHEREXAMPLE002", "other-secret", "222222222222")
CREDENTIALS_TOML = f"""
[[credentials]]
access_key_id = "{OWNER[0]}"
secret_access_key = "{OWNER[1]}"
account_id = "{OWNER[2]}"

[[credentials]]
access_key_id = "{OTHER[0]}"
secret_access_key = "{OTHER[1]}"
account_id = "{OTHER[2]}"
"""
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your"
    " AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@pytest.fixture(scope="module")
def verify_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("verify")
    credentials = root / "credentials.toml"
    credentials.write_text(CREDENTIALS_TOML)
    yield from server_of_its_own(
        root / "data", "--auth", "verify", "--credentials", str(credentials)
    )


def client(endpoint: str, key: str, secret: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=BotoConfig(retries={"total_max_attempts": 1}),
    )


def _error(info: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_signed_requests_work_and_name_the_keys_account(verify_server: ServerProcess) -> None:
    owner = client(verify_server.endpoint, OWNER[0], OWNER[1], "eu-central-1")
    owner.create_stream(StreamName="signed", ShardCount=1)
    summary = owner.describe_stream_summary(StreamName="signed")["StreamDescriptionSummary"]
    assert summary["StreamARN"] == "arn:aws:kinesis:eu-central-1:111111111111:stream/signed"
    owner.put_record(StreamName="signed", Data=b"ok", PartitionKey="k")


def test_wrong_secret_unknown_key_and_stale_date_get_awss_errors(
    verify_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_secret = client(verify_server.endpoint, OWNER[0], "not-the-secret")
    with pytest.raises(wrong_secret.exceptions.ClientError) as info:
        wrong_secret.list_streams()
    assert _error(info) == ("InvalidSignatureException", MISMATCH, 400)

    unknown = client(verify_server.endpoint, "AKIANOBODYKNOWSTHIS", "x")
    with pytest.raises(unknown.exceptions.ClientError) as info:
        unknown.list_streams()
    assert _error(info) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )

    # A correctly signed request made ten minutes ago: outside AWS's five-minute window.
    stale = datetime.now(UTC) - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: stale.replace(tzinfo=None))
    owner = client(verify_server.endpoint, OWNER[0], OWNER[1])
    with pytest.raises(owner.exceptions.ClientError) as info:
        owner.list_streams()
    code, message, status = _error(info)
    assert (code, status) == ("InvalidSignatureException", 400)
    stamp = stale.strftime("%Y%m%dT%H%M%SZ")
    match = re.fullmatch(
        rf"Signature expired: {stamp} is now earlier than (\d{{8}}T\d{{6}}Z)"
        r" \((\d{8}T\d{6}Z) - 5 min\.\)",
        message,
    )
    assert match is not None, message
    earliest, now = (datetime.strptime(t, "%Y%m%dT%H%M%SZ") for t in match.groups())
    assert now - earliest == timedelta(minutes=5)


def test_missing_and_incomplete_signatures(verify_server: ServerProcess) -> None:
    import urllib.error
    import urllib.request

    body = b"{}"
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "Kinesis_20131202.ListStreams",
    }
    request = urllib.request.Request(verify_server.endpoint, body, headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 400
    assert json.loads(info.value.read())["__type"] == "MissingAuthenticationTokenException"

    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={OWNER[0]}/20240101/us-east-1"
    request = urllib.request.Request(verify_server.endpoint, body, headers, method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    answer = json.loads(info.value.read())
    assert answer["__type"] == "IncompleteSignatureException"
    assert "Authorization header requires 'Signature' parameter." in answer["message"]


def test_cross_account_put_record_needs_a_resource_policy(verify_server: ServerProcess) -> None:
    owner = client(verify_server.endpoint, OWNER[0], OWNER[1])
    other = client(verify_server.endpoint, OTHER[0], OTHER[1])
    owner.create_stream(StreamName="shared", ShardCount=1)
    arn = owner.describe_stream_summary(StreamName="shared")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    assert arn == "arn:aws:kinesis:us-east-1:111111111111:stream/shared"

    with pytest.raises(other.exceptions.AccessDeniedException) as info:
        other.put_record(StreamARN=arn, Data=b"x", PartitionKey="k")
    assert _error(info) == (
        "AccessDeniedException",
        "User: arn:aws:iam::222222222222:root is not authorized to perform: kinesis:PutRecord"
        f" on resource: {arn} because no resource-based policy allows the kinesis:PutRecord"
        " action",
        400,
    )
    # By name, the other account only sees its own (empty) namespace.
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.put_record(StreamName="shared", Data=b"x", PartitionKey="k")

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER[2]}:root"},
                "Action": "kinesis:PutRecord",
                "Resource": arn,
            }
        ],
    }
    owner.put_resource_policy(ResourceARN=arn, Policy=json.dumps(policy))
    put = other.put_record(StreamARN=arn, Data=b"granted", PartitionKey="k")
    assert put["ShardId"] == "shardId-000000000000"

    # The policy grants PutRecord only: reading is still refused.
    with pytest.raises(other.exceptions.AccessDeniedException):
        other.list_shards(StreamARN=arn)
    shard = owner.list_shards(StreamName="shared")["Shards"][0]["ShardId"]
    iterator = owner.get_shard_iterator(
        StreamName="shared", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["Data"] for r in owner.get_records(ShardIterator=iterator)["Records"]] == [b"granted"]


@pytest.mark.parametrize("mode", ["h2", "h1"])
def test_js_sdk_subscribe_to_shard_is_verified(
    node: str,  # noqa: F811 - the fixture
    verify_server: ServerProcess,
    tmp_path: Path,
    mode: str,
) -> None:
    """The event-stream request (HTTP/2 with the SDK's default handler) is signed and verified
    like any other: the right key works end to end, a wrong secret is refused."""
    env = _js_env(verify_server.endpoint, tmp_path)
    env.update(AWS_ACCESS_KEY_ID=OWNER[0], AWS_SECRET_ACCESS_KEY=OWNER[1])
    summary = _run_script(node, JS_DIR / "subscribe_to_shard.mjs", mode, env)
    assert summary["received"] == [f"early-{i}" for i in range(3)] + [f"late-{i}" for i in range(5)]

    env.update(AWS_SECRET_ACCESS_KEY="wrong")
    with pytest.raises(AssertionError, match="InvalidSignatureException"):
        _run_script(node, JS_DIR / "subscribe_to_shard.mjs", mode, env)


def test_cross_account_consumer_calls_need_the_consumers_policy(
    verify_server: ServerProcess,
) -> None:
    owner = client(verify_server.endpoint, OWNER[0], OWNER[1])
    other = client(verify_server.endpoint, OTHER[0], OTHER[1])
    owner.create_stream(StreamName="fanout", ShardCount=1)
    stream_arn = owner.describe_stream_summary(StreamName="fanout")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    consumer_arn = owner.register_stream_consumer(StreamARN=stream_arn, ConsumerName="theirs")[
        "Consumer"
    ]["ConsumerARN"]
    # The stream's policy does not cover a call naming the consumer: its own policy does.
    owner.put_resource_policy(
        ResourceARN=stream_arn,
        Policy=json.dumps(_allow(OTHER[2], "kinesis:*", stream_arn)),
    )
    with pytest.raises(other.exceptions.AccessDeniedException) as info:
        other.describe_stream_consumer(ConsumerARN=consumer_arn)
    assert _error(info)[1] == (
        "User: arn:aws:iam::222222222222:root is not authorized to perform:"
        f" kinesis:DescribeStreamConsumer on resource: {consumer_arn} because no"
        " resource-based policy allows the kinesis:DescribeStreamConsumer action"
    )
    owner.put_resource_policy(
        ResourceARN=consumer_arn,
        Policy=json.dumps(
            _allow(
                OTHER[2],
                ["kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard"],
                consumer_arn,
            )
        ),
    )
    described = other.describe_stream_consumer(ConsumerARN=consumer_arn)
    assert described["ConsumerDescription"]["ConsumerName"] == "theirs"
    owner.put_record(StreamName="fanout", Data=b"fan", PartitionKey="k")
    subscription = other.subscribe_to_shard(
        ConsumerARN=consumer_arn,
        ShardId="shardId-000000000000",
        StartingPosition={"Type": "TRIM_HORIZON"},
    )
    stream = subscription["EventStream"]
    try:
        for event in stream:
            records = event["SubscribeToShardEvent"]["Records"]
            if records:
                assert [r["Data"] for r in records] == [b"fan"]
                break
    finally:
        stream.close()


def _allow(account: str, action: object, resource: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": action,
                "Resource": resource,
            }
        ],
    }
