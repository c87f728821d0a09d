"""AWS's quirks in validating Kinesis requests: the facts the model does not say, with sources.

Every table here was read off AWS's answers, as the tests of kinesalite recorded them
(github.com/mhart/kinesalite, ``test/*.js``, written against the real service); the file named
beside each entry is the one that pins it. The model (botocore's ``kinesis/2013-12-02``) gives
the constraints; these tables give AWS's wording and ordering of them.
"""

from __future__ import annotations

# AWS lists ten violations at most (kinesalite test/putRecords.js, 11 bad records).
MAX_LISTED_ERRORS = 10

# Java ranges: Coral reads JSON numbers into these types; an Integer beyond the range comes
# back as 2147483647 (kinesalite test/createStream.js, ShardCount 100000000000).
JAVA_INT = (-(2**31), 2**31 - 1)
JAVA_LONG = (-(2**63), 2**63 - 1)

# Java turns timestamp seconds into a long of milliseconds, saturating (``(long) double``); kept
# a little inside that range so that ``round(seconds * 1000)`` stays a valid SQLite integer.
TS_LIMIT_S = 9.2e15

# The Java type AWS names in "can not be converted to an X" (kinesalite test/helpers.js,
# assertType); other model types are named by their capitalized model name ("String", "Blob").
JAVA_TYPE_NAMES = {"integer": "Integer", "long": "Long", "float": "Float"}

# What AWS names a JSON number in a type error (kinesalite test/helpers.js, assertType).
NUMBER_CLASS = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
START_OF_LIST = "Start of list found where not expected"
START_OF_MAP = "Start of structure or map found where not expected."

# Strings AWS accepts where a boolean is expected (kinesalite validations/index.js).
BOOLEAN_STRINGS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

# AWS's order of violations is not the model's member order, and later kinesalite tests compare
# them as a set. Where a test pinned the exact order, keep it (members not listed follow, in
# model order): test/createStream.js, describeStream.js, getRecords.js, listStreams.js,
# increaseStreamRetentionPeriod.js, putRecord.js, putRecords.js.
OBSERVED_MEMBER_ORDER: dict[str, tuple[str, ...]] = {
    "CreateStreamInput": ("ShardCount", "StreamName"),
    "DescribeStreamInput": ("Limit", "ExclusiveStartShardId", "StreamName"),
    "GetRecordsInput": ("Limit", "ShardIterator"),
    "IncreaseStreamRetentionPeriodInput": ("RetentionPeriodHours", "StreamName"),
    "DecreaseStreamRetentionPeriodInput": ("RetentionPeriodHours", "StreamName"),  # same shape
    "ListStreamsInput": ("Limit", "ExclusiveStartStreamName"),
    "PutRecordInput": (
        "SequenceNumberForOrdering",
        "PartitionKey",
        "ExplicitHashKey",
        "Data",
        "StreamName",
    ),
    "PutRecordsInput": ("Records", "StreamName"),
    "PutRecordsRequestEntry": ("PartitionKey", "ExplicitHashKey", "Data"),
}

# AWS prints enum sets in a hash order, not the model's (kinesalite test/getShardIterator.js).
OBSERVED_ENUM_ORDER: dict[str, tuple[str, ...]] = {
    "ShardIteratorType": (
        "AFTER_SEQUENCE_NUMBER",
        "LATEST",
        "AT_TIMESTAMP",
        "AT_SEQUENCE_NUMBER",
        "TRIM_HORIZON",
    ),
}

# How AWS prints a structure inside a list value: Java's default toString of the request class
# (kinesalite test/putRecords.js). The hash suffix is AWS's; we cannot reproduce it in general.
JAVA_PACKAGE = "com.amazonaws.kinesis.v20131202"
JAVA_HASH_SUFFIX = "@2"
