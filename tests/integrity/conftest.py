"""Fixtures of the integrity tests: a data directory filled once per module, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integrity.damage import Filled, fill


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    return fill(tmp_path_factory.mktemp("pristine") / "data", 400)


@pytest.fixture
def filled(pristine: Filled, tmp_path: Path) -> Filled:
    """A copy of the filled data directory for one test to damage."""
    copy = tmp_path / "data"
    shutil.copytree(pristine.data_dir, copy)
    return Filled(copy, pristine.acked)
