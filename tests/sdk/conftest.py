"""The SDK tests: each builds a program from its registry and runs it against a server here.

Every test under tests/sdk gets the ``sdk`` marker, which the plain suite deselects (pyproject's
addopts ``-m "not sdk"``): `make test-sdks` runs them (``-m sdk``). Their builds take minutes on a
cold cache, so they get a timeout of their own instead of the suite's 120 s. The servers they run
against are started as a user would, with AWS's limits on (the plain suite's run without).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, server_of_its_own

SDK_DIR = Path(__file__).resolve().parent
SDK_TIMEOUT_S = 1800  # a cold build of the Rust SDK on a loaded 2-core machine


@pytest.hookimpl(tryfirst=True)  # before the marker plugin deselects by ``-m``
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SDK_DIR in item.path.parents:
            item.add_marker(pytest.mark.sdk)
            item.add_marker(pytest.mark.timeout(SDK_TIMEOUT_S))


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`shardflow serve` as a user starts it: AWS's limits on, http (HTTP/1.1 and h2c)."""
    yield from server_of_its_own(tmp_path_factory.mktemp("sdk-server") / "data", limits=True)


@pytest.fixture(scope="session")
def sdk_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`shardflow serve --tls` as a user starts it: AWS's limits on, HTTPS (HTTP/2 by ALPN)."""
    data_dir = tmp_path_factory.mktemp("sdk-tls-server") / "data"
    yield from server_of_its_own(data_dir, "--tls", limits=True)
