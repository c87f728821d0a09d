"""The producer's own PutRecords bodies: the same JSON botocore would send, accepted by a real
server through a real (validating) boto3 client, and no effect on ordinary calls."""

from __future__ import annotations

import base64
import json
from typing import Any

from shardflow.model.hashing import partition_hash
from shardflow.producer.batch import Entry
from shardflow.producer.request_body import EncodedRecords, encode_entries, install
from tests.producer.conftest import new_stream

# Keys JSON must escape, non-ASCII data, an explicit hash key routing to the second shard.
RECORDS = [
    ('taxi-"7"\\', b"\x00\xff" * 40, None),
    ("caf\u00e9\u2603\n", "\u00e9t\u00e9".encode(), None),
    ("k", b"x" * 1000, str(2**127 + 5)),
    ("k", b"", None),
]
FIRST_SHARD, SECOND_SHARD = "shardId-000000000000", "shardId-000000000001"


def _entries() -> list[Entry]:
    return [Entry.plain(FIRST_SHARD, r, [], 0, 0.0, 1.0) for r in RECORDS]


def _sent_bodies(client: Any) -> list[bytes]:
    bodies: list[bytes] = []

    def capture(request: Any, **_: Any) -> None:
        bodies.append(request.body)

    client.meta.events.register("before-send.kinesis.PutRecords", capture)
    return bodies


def test_encoded_bodies_equal_botocores_and_are_written(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 2)
    assert install(client)
    install(client)  # once per client, however many producers share it
    bodies = _sent_bodies(client)
    plain = [e.request_entry() for e in _entries()]
    first = client.put_records(StreamName=stream, Records=plain)
    second = client.put_records(
        StreamName=stream, Records=EncodedRecords(encode_entries(_entries()))
    )
    assert first["FailedRecordCount"] == second["FailedRecordCount"] == 0
    assert len(second["Records"]) == len(RECORDS)
    ours, botocores = json.loads(bodies[1]), json.loads(bodies[0])
    assert ours == botocores
    assert ours["StreamName"] == stream and len(ours["Records"]) == len(RECORDS)

    # the explicit hash key (upper half of the range) chose the second shard, both times
    assert first["Records"][2]["ShardId"] == second["Records"][2]["ShardId"] == SECOND_SHARD
    got = []
    for shard in (FIRST_SHARD, SECOND_SHARD):
        it = client.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        got += [
            (r["PartitionKey"], r["Data"]) for r in client.get_records(ShardIterator=it)["Records"]
        ]
    expected = [(key, data) for key, data, _ in RECORDS]
    assert sorted(got) == sorted(expected + expected)
    for i, (key, _, ehk) in enumerate(RECORDS):
        if ehk is None:
            upper = partition_hash(key) >= 2**127
            assert second["Records"][i]["ShardId"] == (SECOND_SHARD if upper else FIRST_SHARD)


def test_stream_arn_is_kept_and_ordinary_calls_are_untouched(endpoint: str) -> None:
    client, stream = new_stream(endpoint, 1)
    install(client)
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    bodies = _sent_bodies(client)
    client.put_records(StreamARN=arn, Records=EncodedRecords(encode_entries(_entries()[:1])))
    client.put_records(StreamARN=arn, Records=[{"Data": b"plain", "PartitionKey": "p"}])
    ours, plain = json.loads(bodies[0]), json.loads(bodies[1])
    assert set(ours) == {"Records", "StreamARN"} and ours["StreamARN"] == arn
    assert [base64.b64decode(r["Data"]) for r in ours["Records"]] == [RECORDS[0][1]]
    assert plain["Records"] == [{"Data": base64.b64encode(b"plain").decode(), "PartitionKey": "p"}]


def test_an_empty_array_is_valid_json() -> None:
    assert json.loads(b"".join(encode_entries([]))) == []
