"""The StrEnums of model/enums.py hold exactly the values of botocore's Kinesis model, and each
value leaves the server as the plain wire string in JSON and in CBOR."""

from __future__ import annotations

from enum import StrEnum

import botocore.session
import orjson
import pytest

from shardflow.model.enums import (
    ConsumerStatus,
    EncryptionType,
    RecordDistribution,
    StreamMode,
    StreamStatus,
)
from shardflow.wire.cbor_codec import encode_value

ENUMS: dict[str, type[StrEnum]] = {
    "StreamStatus": StreamStatus,
    "ConsumerStatus": ConsumerStatus,
    "StreamMode": StreamMode,
    "EncryptionType": EncryptionType,
    "RecordDistributionStrategy": RecordDistribution,
}


@pytest.mark.parametrize("shape", sorted(ENUMS))
def test_values_are_the_models(shape: str) -> None:
    model = botocore.session.get_session().get_service_model("kinesis")
    assert sorted(m.value for m in ENUMS[shape]) == sorted(model.shape_for(shape).enum)


@pytest.mark.parametrize("member", [m for enum in ENUMS.values() for m in enum])
def test_members_encode_as_their_strings(member: StrEnum) -> None:
    plain = str(member.value)
    assert type(plain) is str
    assert orjson.dumps({"S": member}) == orjson.dumps({"S": plain})
    assert encode_value({"S": member}) == encode_value({"S": plain})
    rows = [{"S": member, "N": "x"}] * 10  # CBOR's column-wise path for lists of maps
    assert encode_value(rows) == encode_value([{"S": plain, "N": "x"}] * 10)
    assert f"{member}" == plain and hash(member) == hash(plain)  # messages, sets, dict keys
