"""docs/compatibility.md states, for every operation of the model, what the server does."""

from __future__ import annotations

import re
from pathlib import Path

from shardflow.api.registry import HANDLERS
from shardflow.api.validation import RequestSchema

DOC = Path(__file__).resolve().parent.parent / "docs" / "compatibility.md"


def test_compatibility_table_matches_the_handlers() -> None:
    rows = dict(re.findall(r"^\| (\w+) \| (supported|partial|missing) \|", DOC.read_text(), re.M))
    assert set(rows) == set(RequestSchema().operations())
    for operation, state in rows.items():
        assert (state != "missing") == (operation in HANDLERS), operation
