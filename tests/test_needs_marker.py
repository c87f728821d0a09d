"""The ``needs`` marker of tests/conftest.py: a missing operation fails the test, never skips it."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

MARKED = """
import pytest

@pytest.mark.needs({operation!r})
def test_marked():
    pass
"""


@pytest.fixture
def marked(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run one marked test in a fresh session that has the suite's hook and marker."""
    monkeypatch.delenv("SHARDFLOW_TEST_ENDPOINT", raising=False)
    pytester.makeconftest("from tests.conftest import pytest_runtest_setup  # noqa: F401\n")
    pytester.makeini("[pytest]\nmarkers =\n    needs(*operations): operations used\n")

    def run(operation: str) -> pytest.RunResult:
        pytester.makepyfile(MARKED.format(operation=operation))
        return pytester.runpytest_inprocess("-p", "no:cacheprovider")

    return run


def test_missing_operation_fails(marked) -> None:  # type: ignore[no-untyped-def]
    result = marked("NoSuchOperation")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*shardflow does not implement NoSuchOperation*"])


def test_present_operation_runs(marked) -> None:  # type: ignore[no-untyped-def]
    marked("PutRecord").assert_outcomes(passed=1)


def test_another_endpoint_runs_it(marked, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHARDFLOW_TEST_ENDPOINT", "http://127.0.0.1:9")
    marked("NoSuchOperation").assert_outcomes(passed=1)
