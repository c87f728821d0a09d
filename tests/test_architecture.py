"""The layering rules of docs/architecture.md, checked on the source (issue 12).

- No SQL outside ``src/shardflow/storage/`` (the consumer's and the metrics' own SQLite stores
  aside): SQL in a string literal anywhere else fails.
- No module under ``src/shardflow/engine/`` imports the ``Engine`` back (not even under
  TYPE_CHECKING): each service is given what it uses by the composition root, ``engine.py``.
- No module under ``src/shardflow/`` is over 400 lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "shardflow"

# Their own SQLite databases, not the server's store (issue 12 allows them to stay).
SQL_ALLOWED = {
    PACKAGE / "consumer" / "sqlite_store.py",
    PACKAGE / "metrics" / "store.py",
}

_SQL = re.compile(
    r"^\s*(SELECT\b.*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b"
    r"|CREATE\s+(TABLE|INDEX|UNIQUE\s+INDEX)\b|DROP\s+(TABLE|INDEX)\b|ALTER\s+TABLE\b|PRAGMA\s+\w"
    r"|BEGIN(\s+IMMEDIATE)?\s*$|SAVEPOINT\s+\w|REPLACE\s+INTO\b)",
    re.DOTALL,  # SQL keywords are written in capitals here; prose is not
)

MAX_MODULE_LINES = 400

# Every module under engine/ except the composition root itself (the layers above use it).
ENGINE_MODULES = sorted(
    p.stem for p in (PACKAGE / "engine").glob("*.py") if p.stem not in ("__init__", "engine")
)


def sql_literals(source: str) -> list[str]:
    """String literals (docstrings excluded) of ``source`` that read as SQL statements."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _SQL.match(node.value)
    ]


def engine_imports(source: str) -> list[str]:
    """Every import of ``shardflow.engine.engine`` in ``source``, TYPE_CHECKING ones too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == "shardflow.engine.engine" or (
                node.module == "shardflow.engine" and any(a.name == "engine" for a in node.names)
            ):
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name == "shardflow.engine.engine"
            ]
    return found


def test_the_sql_detector_finds_sql_and_ignores_prose() -> None:
    """The rule below can fail: statements are found, messages and docstrings are not."""
    source = '''
"""Module docstring: SELECT x FROM y is prose here."""
A = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
B = "  UPDATE streams SET doc=? WHERE uid=?"
C = "Stream foo under account 1 not found."
D = "DELETE FROM shards WHERE stream_uid=?"
E = "Select the stream from the list, then update it"
'''
    assert sql_literals(source) == [
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        "  UPDATE streams SET doc=? WHERE uid=?",
        "DELETE FROM shards WHERE stream_uid=?",
    ]
    assert sql_literals((PACKAGE / "storage" / "metadata.py").read_text())


def test_no_sql_outside_storage() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "storage") or path in SQL_ALLOWED:
            continue
        found = sql_literals(path.read_text())
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}, "SQL belongs in shardflow/storage/ (a repository method)"


def test_the_import_detector_sees_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from shardflow.engine.engine import Engine\n"
    )
    assert engine_imports(source) == ["line 3: from shardflow.engine.engine import ..."]


def test_the_engine_modules_are_found() -> None:
    assert {"access", "consumers", "metadata", "resharding", "subscriptions"} <= set(ENGINE_MODULES)


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_does_not_import_the_engine(module: str) -> None:
    path = PACKAGE / "engine" / f"{module}.py"
    assert engine_imports(path.read_text()) == []


def test_no_module_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    assert len(sizes) > 100  # the walk found the package
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}, "split the module"
