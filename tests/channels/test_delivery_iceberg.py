"""Iceberg delivery: the channel's own table, created with the first record's fields, hourly
partitions for TIME_HOUR fields, records that do not fit in the dead-letter queue, and a
table that already exists refused (AWS: a channel creates its table)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField

from tests.channels.conftest import (
    ROLE,
    SCHEMA_ARN,
    create_table_channel,
    eventually,
    tables_destination,
    wait_status,
)
from tests.channels.lake import duck, load_table, table_count


def _objects(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    return s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])


def test_partitioned_table_and_dead_letters(kinesis, s3, bucket, on_demand, warehouse) -> None:
    table = f"events_{uuid.uuid4().hex[:8]}"
    destination = tables_destination(bucket, table)
    destination["S3TablesConfigurationList"][0]["PartitionSpec"] = {
        "PartitionFields": [{"Transform": "TIME_HOUR", "SourceName": "at"}]
    }
    arn = kinesis.create_channel(
        ChannelName=f"tbl-{uuid.uuid4().hex[:8]}",
        ServiceExecutionRoleARN=ROLE,
        StreamConfigurationList=[
            {
                "StreamARN": on_demand["StreamARN"],
                "RecordConfiguration": {"RecordFormatType": "JSON", "GSRSchemaARN": SCHEMA_ARN},
            }
        ],
        S3TablesDestinationConfiguration=destination,
    )["ChannelDescription"]["ChannelARN"]
    wait_status(kinesis, arn)
    good = [{"n": i, "at": f"2026-03-0{1 + i % 2}T0{i % 3}:15:00", "ok": True} for i in range(30)]
    bad = [b"[1, 2]", b'{"n": "text", "at": "2026-03-01T00:00:00"}', b'{"n": 1, "extra": 2}']
    records = [orjson.dumps(g) for g in good[:1]] + bad + [orjson.dumps(g) for g in good[1:]]
    for data in records:
        kinesis.put_record(StreamName=on_demand["StreamName"], Data=data, PartitionKey="k")
    eventually(lambda: table_count(warehouse, "lake", "kinesis", table) == 30)
    loaded = load_table(warehouse, "lake", "kinesis", table)
    assert loaded is not None
    assert [str(f.field_type) for f in loaded.schema().fields] == [
        "long",
        "timestamp",
        "boolean",
    ]
    paths = {t.file.file_path for t in loaded.scan().plan_files()}
    assert {p.split("/")[-2] for p in paths} == {
        "at_hour=2026-03-01-00",
        "at_hour=2026-03-01-02",
        "at_hour=2026-03-01-01",
        "at_hour=2026-03-02-00",
        "at_hour=2026-03-02-01",
        "at_hour=2026-03-02-02",
    }
    rows = duck(loaded).execute("SELECT n FROM trips ORDER BY n").fetchall()
    assert [r[0] for r in rows] == list(range(30))
    errors = eventually(lambda: _objects(s3, bucket, "error/"))
    lines = [
        orjson.loads(x)
        for o in errors
        for x in s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().splitlines()
    ]
    assert sorted(line["errorCode"] for line in lines) == ["SchemaMismatch"] * 3
    assert any("unknown field(s) extra" in line["errorMessage"] for line in lines)


def test_an_existing_table_fails_the_channel(kinesis, bucket, on_demand, warehouse: Path) -> None:
    root = warehouse / "lake"
    root.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog("lake", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
    catalog.create_namespace_if_not_exists("kinesis")
    name = f"theirs_{uuid.uuid4().hex[:8]}"
    catalog.create_table(("kinesis", name), Schema(NestedField(1, "x", LongType())))
    arn = create_table_channel(kinesis, on_demand["StreamARN"], bucket, name)["ChannelARN"]
    desc = wait_status(kinesis, arn, "FAILED")
    assert desc["ChannelStatusReason"] == (
        f"Table kinesis.{name} already exists in table bucket lake: a channel delivers only to"
        " the table it creates."
    )
