"""Reading a channel's Iceberg table back, as a user would: pyiceberg for the table and its
current snapshot's data files, DuckDB for SQL over those Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError


def load_table(warehouse: Path, bucket: str, namespace: str, table: str) -> Any | None:
    root = warehouse / bucket
    if not (root / "catalog.db").exists():
        return None
    catalog = SqlCatalog(bucket, uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
    try:
        return catalog.load_table((namespace, table))
    except NoSuchTableError:
        return None


def duck(table: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the table's current data files as the view ``trips``."""
    files = [t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()]
    conn = duckdb.connect()
    if files:
        conn.execute(f"CREATE VIEW trips AS SELECT * FROM read_parquet({files!r})")
    return conn


def table_count(warehouse: Path, bucket: str, namespace: str, table: str) -> int:
    loaded = load_table(warehouse, bucket, namespace, table)
    if loaded is None or loaded.current_snapshot() is None:
        return 0
    row = duck(loaded).execute("SELECT count(*) FROM trips").fetchone()
    assert row is not None
    return int(row[0])


def check_taxis(table: Any, expected: dict[str, int]) -> None:
    """Every taxi's trips are in the table exactly once (taxiSeq 1..n) and in trip order."""
    conn = duck(table)
    total, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT (taxiId, taxiSeq)) FROM trips"
    ).fetchone() or (0, 0)
    assert (total, distinct) == (sum(expected.values()), sum(expected.values()))
    per_taxi = dict(
        conn.execute(
            "SELECT taxiId, count(*) FROM trips GROUP BY taxiId HAVING min(taxiSeq) = 1"
            " AND max(taxiSeq) = count(*)"
        ).fetchall()
    )
    assert per_taxi == expected
    out_of_order = conn.execute(
        "SELECT count(*) FROM (SELECT taxiSeq, row_number() OVER"
        " (PARTITION BY taxiId ORDER BY pickupDate) AS n FROM trips) WHERE taxiSeq <> n"
    ).fetchone()
    assert out_of_order == (0,)
