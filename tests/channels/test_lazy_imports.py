"""The channels extra (pyiceberg, pyarrow, zstandard) costs nothing to a server without
channels: starting the engine with no channel imports none of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROGRAM = """
import asyncio, sys
from pathlib import Path
from shardflow.config import Config
from shardflow.engine.engine import Engine
from shardflow.storage.sqlite import SqliteStore

async def main(directory):
    store = SqliteStore(directory, "memory")
    store.open()
    engine = Engine(Config(data_dir=directory), store)
    await engine.start()
    await engine.stop()
    store.close()

asyncio.run(main(Path(sys.argv[1])))
heavy = ("pyiceberg", "pyarrow", "zstandard", "duckdb", "sqlalchemy")
print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
"""


def test_a_server_without_channels_imports_no_iceberg(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr
