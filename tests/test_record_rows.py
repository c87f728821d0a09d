"""GetRecords' Records handed to the codecs as columns (``wire.record_rows``): the JSON is the
Record shapes AWS sends, member for member, and the CBOR is byte for byte what encoding the
Record dicts gives, for pages with keys that need escaping, keyless and encrypted records."""

from __future__ import annotations

import base64
import json
import os

import pytest

from shardflow.model import sequence
from shardflow.wire import cbor_codec, json_codec
from shardflow.wire.record_rows import RecordRows

CODEC = cbor_codec.CborCodec()


def _page(count: int, keys: list[str], encrypted: list[bool] | None) -> tuple[RecordRows, list]:
    positions = list(range(5, 5 + 3 * count, 3))
    arrivals = [1_733_300_000_000 + 7 * i for i in range(count)]
    datas = [os.urandom(i % 40) for i in range(count)]
    rows = RecordRows(sequence.page_values(7, positions), arrivals, datas, keys, encrypted)
    shapes = []
    for i in range(count):
        shape = {
            "SequenceNumber": sequence.encode(7, positions[i]),
            "ApproximateArrivalTimestamp": arrivals[i] / 1000,
            "Data": datas[i],
        }
        if keys[i]:
            shape["PartitionKey"] = keys[i]
        if encrypted and encrypted[i]:
            shape["EncryptionType"] = "KMS"
        shapes.append(shape)
    return rows, shapes


KEYS = {
    "plain": lambda i: f"key-{i}",
    "escaped": lambda i: f'k,{i}"\\\n' if i % 3 else f"ключ {i}",
    "keyless": lambda i: "" if i % 4 == 0 else f"k{i}",
}


@pytest.mark.parametrize("count", [0, 1, 7, 8, 33, 300])
@pytest.mark.parametrize("keys", sorted(KEYS))
@pytest.mark.parametrize("kms", [False, True])
def test_records_encode_as_their_shapes(count: int, keys: str, kms: bool) -> None:
    encrypted = [i % 2 == 1 for i in range(count)] if kms else None
    rows, shapes = _page(count, [KEYS[keys](i) for i in range(count)], encrypted)
    payload = {"Records": rows, "MillisBehindLatest": 3, "NextShardIterator": "it"}
    expected = {"Records": shapes, "MillisBehindLatest": 3, "NextShardIterator": "it"}
    as_json = [{**s, "Data": base64.b64encode(s["Data"]).decode()} for s in expected["Records"]]
    assert json.loads(json_codec.encode(payload)) == {**expected, "Records": as_json}
    nested = json.loads(json_codec.encode({"Event": {"Records": rows}}))
    assert nested == {"Event": {"Records": as_json}}
    plan = CODEC._outputs["GetRecords"]
    assert CODEC.response("GetRecords", payload) == cbor_codec.encode_value(expected, plan)
