"""Delivery to an Iceberg table ("S3 Tables") with pyiceberg, in a local warehouse.

Layout: a table bucket ``arn:...:bucket/<name>`` is the directory ``<warehouse>/<name>`` with
a SQL catalog in ``<warehouse>/<name>/catalog.db``; pyiceberg, DuckDB or Spark read it there.
The channel creates its table (AWS: delivery to an existing table is not supported) when the
first records arrive, with the schema of the first valid JSON object (no schema registry
here); records that do not fit it go to the dead-letter queue (AWS: no schema evolution).

Exactly once: every append commits, in the same atomic Iceberg commit, the store position it
delivered up to as a snapshot summary property. After a crash the position is read back from
the table's current snapshot, so a range is never appended twice.

pyiceberg and pyarrow (the ``channels`` extra) are imported only when a table is opened.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from shardflow.delivery import dead_letter
from shardflow.delivery.dead_letter import Failure
from shardflow.delivery.s3 import S3Writer
from shardflow.delivery.source import Delivered, collect
from shardflow.engine.channel_model import Channel
from shardflow.engine.reading import ReadShard
from shardflow.engine.streams import Stream

POSITION_PROPERTY = "shardflow.position"  # snapshot summary: store position delivered up to
CHANNEL_PROPERTY = "shardflow.channel-id"  # table property: the channel that owns the table
CODECS = {"NONE": "uncompressed", "ZSTD": "zstd", "SNAPPY": "snappy"}
MISSING_EXTRA = "Iceberg delivery needs pyiceberg and pyarrow: install shardflow[channels]."
# SqlCatalog creates its tables on first use, unguarded: two channels checking one table bucket
# at once in their threads both ran CREATE TABLE, and one failed ("table ... already exists").
_CATALOG_LOCK = threading.Lock()


def table_bucket(arn: str) -> str:
    """``arn:aws:s3tables:<region>:<account>:bucket/<name>`` -> ``name``."""
    return arn.rsplit("/", 1)[1]


def open_catalog(warehouse: Path, bucket: str) -> Any:
    """The SQL catalog of one table bucket (created on first use)."""
    from pyiceberg.catalog.sql import SqlCatalog

    root = warehouse / bucket
    root.mkdir(parents=True, exist_ok=True)
    with _CATALOG_LOCK:
        return SqlCatalog(bucket, uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "string"  # strings, and objects, arrays and nulls kept as JSON text


def _fits(kind: str, value: Any) -> Any:
    """The value as the column stores it; raises ValueError if it does not fit."""
    if value is None:
        return None
    if kind == "timestamp" and isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)  # ValueError: not ISO 8601
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "long" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "double" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "string":
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    raise ValueError(f"{type(value).__name__} value where the column holds {kind}")


class IcebergSink:
    def __init__(
        self,
        channel: Channel,
        s3: S3Writer,
        warehouse: Path,
        read_shard: ReadShard,
        committed_position: Callable[[], Awaitable[int]],
    ) -> None:
        self._channel = channel
        self._s3 = s3
        self._warehouse = warehouse
        self._read_shard = read_shard
        self._committed_position = committed_position
        config = channel.destination["S3TablesConfigurationList"][0]
        self._bucket = table_bucket(config["TableBucketARN"])
        self._ident = (config["Namespace"], config["TableName"])
        self._codec = CODECS[config["CompressionType"]]
        # TIME_HOUR partition fields: their source columns hold ISO 8601 timestamps.
        fields = (config.get("PartitionSpec") or {}).get("PartitionFields", [])
        self._hourly = [f["SourceName"] for f in fields if f["Transform"] == "TIME_HOUR"]
        self._catalog: Any = None
        self._table: Any = None
        self._columns: dict[str, str] | None = None  # name -> bool/long/double/string
        self._delivered: int | None = None
        self._foreign = False  # a table of that name exists and is not this channel's

    @property
    def table_name(self) -> str:
        return ".".join(self._ident)

    # -- destination check (CREATING) ------------------------------------------------------

    async def problem(self) -> str | None:
        dlq = self._channel.dead_letter
        why = await asyncio.to_thread(
            self._s3.problem, dlq["BucketARN"], dlq["ExpectedBucketOwner"]
        )
        if why is not None:
            return why
        return await asyncio.to_thread(self._table_problem)

    def _table_problem(self) -> str | None:
        try:
            self._open()
        except ImportError:
            return MISSING_EXTRA
        if self._table is not None or self._foreign:
            return (
                f"Table {self.table_name} already exists in table bucket {self._bucket}: a"
                " channel delivers only to the table it creates."
            )
        return None

    # -- delivery --------------------------------------------------------------------------

    async def deliver(self, stream: Stream) -> bool:
        """One delivery cycle; True if it stopped short of the stream's end (a full cycle)."""
        if self._catalog is None:
            await asyncio.to_thread(self._open)
        after = self._delivered
        if after is None:
            after = self._channel.start_position
        up_to = await self._committed_position()
        if up_to <= after:
            return False
        records, reached = await collect(stream, self._read_shard, after, up_to)
        rows, failures = self._rows(records)
        await dead_letter.write(self._s3, self._channel, failures, after, reached)
        if rows:
            await asyncio.to_thread(self._append, rows, reached)
        self._delivered = reached  # a range without rows is re-read after a restart
        return reached < up_to

    def _open(self) -> None:
        from pyiceberg.exceptions import NoSuchTableError

        self._catalog = open_catalog(self._warehouse, self._bucket)
        self._catalog.create_namespace_if_not_exists(self._ident[0])
        try:
            table = self._catalog.load_table(self._ident)
        except NoSuchTableError:
            return
        if table.properties.get(CHANNEL_PROPERTY) != self._channel.channel_id:
            self._foreign = True  # not ours: problem() says so while CREATING
            return
        self._table = table
        self._columns = {f.name: _iceberg_kind(f.field_type) for f in table.schema().fields}
        snapshot = table.current_snapshot()
        if snapshot is not None and snapshot.summary.get(POSITION_PROPERTY) is not None:
            self._delivered = int(snapshot.summary.get(POSITION_PROPERTY))

    def _rows(self, records: list[Delivered]) -> tuple[list[dict[str, Any]], list[Failure]]:
        rows: list[dict[str, Any]] = []
        failures: list[Failure] = []
        for r in records:
            try:
                value = orjson.loads(r.data)
            except orjson.JSONDecodeError as exc:
                failures.append((r, "InvalidJsonRecord", f"The record is not valid JSON ({exc})."))
                continue
            if not isinstance(value, dict) or not value:
                failures.append(
                    (r, "SchemaMismatch", "The record is not a JSON object with fields.")
                )
                continue
            if self._columns is None:
                self._columns = {k: _type_of(v) for k, v in value.items()}
                self._columns.update({name: "timestamp" for name in self._hourly})
            try:
                rows.append(self._row(value))
            except ValueError as exc:
                failures.append((r, "SchemaMismatch", f"The record does not fit the table: {exc}"))
        return rows, failures

    def _row(self, value: dict[str, Any]) -> dict[str, Any]:
        assert self._columns is not None
        extra = sorted(set(value) - set(self._columns))
        if extra:
            raise ValueError(f"unknown field(s) {', '.join(extra)}")
        out = {}
        for name, kind in self._columns.items():
            try:
                out[name] = _fits(kind, value.get(name))
            except ValueError as exc:
                raise ValueError(f"field {name}: {exc}") from None
        return out

    def _append(self, rows: list[dict[str, Any]], up_to: int) -> None:
        import pyarrow as pa

        assert self._columns is not None
        arrow_types = {
            "bool": pa.bool_(),
            "long": pa.int64(),
            "double": pa.float64(),
            "timestamp": pa.timestamp("us"),
        }
        schema = pa.schema(
            [pa.field(n, arrow_types.get(k, pa.string())) for n, k in self._columns.items()]
        )
        if self._table is None:
            self._table = self._create_table()
        # One commit per cycle: the rows and the position move together or not at all.
        self._table.append(
            pa.Table.from_pylist(rows, schema=schema), {POSITION_PROPERTY: str(up_to)}
        )

    def _create_table(self) -> Any:
        """The channel's table: the inferred columns, partitioned by hour on TIME_HOUR fields."""
        from pyiceberg.partitioning import PartitionField, PartitionSpec
        from pyiceberg.schema import Schema
        from pyiceberg.transforms import HourTransform
        from pyiceberg.types import (
            BooleanType,
            DoubleType,
            LongType,
            NestedField,
            StringType,
            TimestampType,
        )

        assert self._columns is not None
        types = {
            "bool": BooleanType(),
            "long": LongType(),
            "double": DoubleType(),
            "timestamp": TimestampType(),
        }
        ids = {name: i for i, name in enumerate(self._columns, start=1)}
        schema = Schema(
            *(
                NestedField(ids[name], name, types.get(kind, StringType()), required=False)
                for name, kind in self._columns.items()
            )
        )
        spec = PartitionSpec(
            *(
                PartitionField(
                    source_id=ids[name],
                    field_id=1000 + i,
                    transform=HourTransform(),
                    name=f"{name}_hour",
                )
                for i, name in enumerate(self._hourly)
            )
        )
        return self._catalog.create_table(
            self._ident,
            schema=schema,
            partition_spec=spec,
            properties={
                "write.parquet.compression-codec": self._codec,
                CHANNEL_PROPERTY: self._channel.channel_id,
            },
        )


def _iceberg_kind(field_type: Any) -> str:
    name = str(field_type)
    kinds = {"boolean": "bool", "long": "long", "double": "double", "timestamp": "timestamp"}
    return kinds.get(name, "string")
