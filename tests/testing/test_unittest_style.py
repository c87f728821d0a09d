"""docs/testing.md's unittest example, as it is written there (pytest runs unittest classes)."""

from __future__ import annotations

import json
import os
import unittest
from typing import Any
from unittest import mock

import boto3

import shardflow.testing


def publish_order(stream: str, order: dict[str, Any]) -> str:
    """Code under test: it builds its own client from the environment."""
    client = boto3.client("kinesis")
    response = client.put_record(
        StreamName=stream, Data=json.dumps(order).encode(), PartitionKey=order["id"]
    )
    return str(response["ShardId"])


@unittest.skipIf(bool(os.environ.get("SHARDFLOW_TEST_ENDPOINT")), "starts a server of its own")
class PublishOrderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = cls.enterClassContext(shardflow.testing.server())
        cls.kinesis = cls.server.client()
        cls.enterClassContext(mock.patch.dict(os.environ, cls.server.env()))

    def setUp(self) -> None:
        self.server.reset()
        self.kinesis.create_stream(StreamName="orders", ShardCount=2)

    def test_publish_order(self) -> None:
        shard = publish_order("orders", {"id": "o-1"})
        it = self.kinesis.get_shard_iterator(
            StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = self.kinesis.get_records(ShardIterator=it)["Records"]
        self.assertEqual([json.loads(r["Data"]) for r in records], [{"id": "o-1"}])

    def test_each_test_starts_empty(self) -> None:
        self.assertEqual(self.kinesis.list_streams()["StreamNames"], ["orders"])
        publish_order("orders", {"id": "o-2"})
