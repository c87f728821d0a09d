"""The string enums of the Kinesis API that the code branches on (botocore's model lists them).

``StrEnum`` members are ``str``: they compare equal to the wire strings, format as them, and
encode as them in JSON (orjson) and CBOR, so a response carries exactly the strings AWS sends and
a document stored before (plain strings) loads and compares as before.
"""

from __future__ import annotations

from enum import StrEnum


class StreamStatus(StrEnum):
    CREATING = "CREATING"
    DELETING = "DELETING"
    ACTIVE = "ACTIVE"
    UPDATING = "UPDATING"


class ConsumerStatus(StrEnum):
    CREATING = "CREATING"
    DELETING = "DELETING"
    ACTIVE = "ACTIVE"


class StreamMode(StrEnum):
    PROVISIONED = "PROVISIONED"
    ON_DEMAND = "ON_DEMAND"


class EncryptionType(StrEnum):
    NONE = "NONE"
    KMS = "KMS"


class RecordDistribution(StrEnum):
    """RecordDistributionStrategy."""

    USER_PARTITION_KEY = "USER_PARTITION_KEY"
    AUTO = "AUTO"
