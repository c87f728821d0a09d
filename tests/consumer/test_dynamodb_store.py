"""The DynamoDB store against a real DynamoDB-compatible server (moto's): KCL item layout, the
table created on demand, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from shardflow.consumer.dynamodb_store import DynamoDBCheckpointStore
from shardflow.consumer.errors import SetupError
from shardflow.consumer.records import SHARD_END, Position
from shardflow.consumer.shards import ShardInfo
from tests.consumer.dynamodb import DynamoDBServer, unique_table

SCOPE = "app/orders@1700000000000"
PARENT = ShardInfo("shardId-000000000000", hash_range=(0, 2**128 - 1))
CHILD = ShardInfo("shardId-000000000001", ("shardId-000000000000",), hash_range=(0, 2**127))


def test_missing_table_is_created_on_demand(dynamodb_server: DynamoDBServer) -> None:
    client, table = dynamodb_server.client(), unique_table()
    store = DynamoDBCheckpointStore(table, client=client)
    store.sync_shards(SCOPE, [PARENT])
    description = client.describe_table(TableName=table)["Table"]
    assert description["TableStatus"] == "ACTIVE"
    assert description["KeySchema"] == [{"AttributeName": "leaseKey", "KeyType": "HASH"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # a second worker finds it and uses it
    other = DynamoDBCheckpointStore(table, client=dynamodb_server.client())
    assert [lease.shard_id for lease in other.leases(SCOPE)] == [PARENT.shard_id]


def test_items_have_the_kcl_lease_layout(dynamodb_server: DynamoDBServer) -> None:
    client, table = dynamodb_server.client(), unique_table()
    store = DynamoDBCheckpointStore(table, client=client, initial_position="LATEST")
    store.sync_shards(SCOPE, [PARENT, CHILD])

    def item(shard: ShardInfo) -> dict[str, object]:
        raw = client.get_item(TableName=table, Key={"leaseKey": {"S": shard.shard_id}})["Item"]
        return {name: next(iter(value.values())) for name, value in raw.items()}

    assert item(PARENT) == {
        "leaseKey": PARENT.shard_id,
        "leaseCounter": "0",
        "checkpoint": "LATEST",
        "checkpointSubSequenceNumber": "0",
        "ownerSwitchesSinceCheckpoint": "0",
        "startingHashKey": "0",
        "endingHashKey": str(2**128 - 1),
        "shardflowScope": SCOPE,
    }
    child = item(CHILD)
    assert child["parentShardId"] == [PARENT.shard_id] and child["checkpoint"] == "TRIM_HORIZON"
    leases = {lease.shard_id: lease for lease in store.leases(SCOPE)}
    taken = store.take(SCOPE, leases[PARENT.shard_id], "worker-a")
    assert taken is not None and taken.checkpoint is None  # a sentinel is no position
    # The same take again (as botocore retries one whose answer was lost): it had landed.
    assert store.take(SCOPE, leases[PARENT.shard_id], "worker-a") == taken
    assert store.take(SCOPE, leases[PARENT.shard_id], "worker-b") is None
    assert store.checkpoint(SCOPE, PARENT.shard_id, "worker-a", 1, Position(4961, 2)) == 2
    after = item(PARENT)
    assert after["leaseOwner"] == "worker-a" and after["leaseCounter"] == "2"
    assert after["checkpoint"] == "4961" and after["checkpointSubSequenceNumber"] == "2"
    assert store.checkpoint(SCOPE, PARENT.shard_id, "worker-a", 2, SHARD_END) == 3
    assert item(PARENT)["checkpoint"] == "SHARD_END"
    assert store.release(SCOPE, PARENT.shard_id, "worker-a", 3)
    assert "leaseOwner" not in item(PARENT)
    assert dict(store.calls) == {
        "describe_table": 1,
        "scan": 2,  # one to find the leases that exist, one read
        "create": 2,
        "take": 3,
        "checkpoint": 2,
        "release": 1,
    }


def test_a_table_of_another_stream_is_refused(dynamodb_server: DynamoDBServer) -> None:
    table = unique_table()
    DynamoDBCheckpointStore(table, client=dynamodb_server.client()).sync_shards(SCOPE, [PARENT])
    recreated = "app/orders@1800000000000"
    store = DynamoDBCheckpointStore(table, client=dynamodb_server.client())
    with pytest.raises(SetupError, match="holds the leases of app/orders@1700000000000"):
        store.leases(recreated)


def test_a_table_with_another_key_is_refused(dynamodb_server: DynamoDBServer) -> None:
    client, table = dynamodb_server.client(), unique_table()
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(SetupError, match="is not a lease table"):
        DynamoDBCheckpointStore(table, client=client).leases(SCOPE)


def test_a_caller_who_may_not_create_the_table_is_told_what_to_do(tmp_path: Path) -> None:
    """moto with IAM checks on: a user allowed everything on DynamoDB but CreateTable."""
    server = DynamoDBServer(tmp_path, extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    server.start()
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="admin",
            aws_secret_access_key="admin",
        )
        iam.create_user(UserName="reader")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:CreateTable", "Resource": "*"},
            ],
        }
        iam.put_user_policy(
            UserName="reader", PolicyName="no-create", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        client = server.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])
        table = unique_table()
        with pytest.raises(SetupError) as caught:
            DynamoDBCheckpointStore(table, client=client).leases(SCOPE)
        message = str(caught.value)
        assert "may not CreateTable" in message and "not authorized" in message
        assert f"aws dynamodb create-table --table-name {table}" in message
    finally:
        server.stop()


def test_an_owner_write_retried_after_its_answer_was_lost_still_holds_the_lease(
    dynamodb_server: DynamoDBServer,
) -> None:
    """botocore resends a write whose answer was lost; the resend fails its condition because
    the first one landed. Renew, checkpoint and release recognise their own landed write."""
    store = DynamoDBCheckpointStore(unique_table(), client=dynamodb_server.client())
    store.sync_shards(SCOPE, [PARENT])
    taken = store.take(SCOPE, store.leases(SCOPE)[0], "worker-a")
    assert taken is not None and taken.counter == 1
    shard = PARENT.shard_id
    assert store.renew(SCOPE, shard, "worker-a", 1) == 2
    assert store.renew(SCOPE, shard, "worker-a", 1) == 2  # the resend: it had landed
    assert store.renew(SCOPE, shard, "worker-b", 1) is None  # not worker-b's lease
    assert store.checkpoint(SCOPE, shard, "worker-a", 2, Position(4961, 2)) == 3
    assert store.checkpoint(SCOPE, shard, "worker-a", 2, Position(4961, 2)) == 3
    # the item at counter 3 holds another checkpoint than this write's: not this write
    assert store.checkpoint(SCOPE, shard, "worker-a", 2, Position(5000, 0)) is None
    assert store.renew(SCOPE, shard, "worker-a", 1) is None  # two counters behind: lost
    assert store.release(SCOPE, shard, "worker-a", 3)
    assert store.release(SCOPE, shard, "worker-a", 3)
    lease = store.leases(SCOPE)[0]
    assert (lease.owner, lease.counter, lease.checkpoint) == (None, 4, Position(4961, 2))
