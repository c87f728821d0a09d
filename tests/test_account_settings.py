"""DescribeAccountSettings and UpdateAccountSettings: the minimum throughput billing commitment.

A server of its own: account settings are shared by every test of a server.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import (
    NOT_NULL,
    assert_enum_validation,
    assert_serialization,
    assert_validation,
    nested,
    raw_call,
    serialization_params,
    validation_message,
)
from tests.support import ServerProcess

DESCRIBE, UPDATE = "DescribeAccountSettings", "UpdateAccountSettings"
YEAR_S = 365 * 86_400


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if os.environ.get("SHARDFLOW_TEST_ENDPOINT"):
        pytest.skip("starts a server of its own")
    server = ServerProcess(tmp_path_factory.mktemp("account") / "d")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class TestSerialization:
    @pytest.mark.parametrize(
        ("path", "value", "message"),
        serialization_params(
            {
                "MinimumThroughputBillingCommitment": "Structure",
                "MinimumThroughputBillingCommitment.Status": "String",
            }
        ),
    )
    def test_wrong_json_type(self, endpoint: str, path: str, value: Any, message: str) -> None:
        body = nested(path, value, {"MinimumThroughputBillingCommitment": {"Status": "ENABLED"}})
        assert_serialization(raw_call(endpoint, UPDATE, body), message)


class TestValidation:
    def test_required(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, UPDATE, {}),
            [validation_message(None, "minimumThroughputBillingCommitment", NOT_NULL)],
        )
        assert_validation(
            raw_call(endpoint, UPDATE, {"MinimumThroughputBillingCommitment": {}}),
            [validation_message(None, "minimumThroughputBillingCommitment.status", NOT_NULL)],
        )

    def test_status_enum(self, endpoint: str) -> None:
        body = {
            "MinimumThroughputBillingCommitment": {"Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END"}
        }
        assert_enum_validation(
            raw_call(endpoint, UPDATE, body),
            "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
            "minimumThroughputBillingCommitment.status",
            ["ENABLED", "DISABLED"],
        )


def test_commitment_lifecycle(own_server: ServerProcess) -> None:
    client: Any = make_client(own_server.endpoint)
    status, _, body = raw_call(own_server.endpoint, DESCRIBE, {})
    assert (status, body) == (200, {"MinimumThroughputBillingCommitment": {"Status": "DISABLED"}})
    before = time.time()
    got = client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})[
        "MinimumThroughputBillingCommitment"
    ]
    assert got["Status"] == "ENABLED"
    started = got["StartedAt"].timestamp()
    assert before - 5 <= started <= time.time() + 5
    assert got["EarliestAllowedEndAt"].timestamp() - started == pytest.approx(YEAR_S, abs=1)
    assert client.describe_account_settings()["MinimumThroughputBillingCommitment"] == got
    # disabling within the first year keeps it until the earliest allowed end
    got = client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})[
        "MinimumThroughputBillingCommitment"
    ]
    assert got["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert got["EndedAt"] == got["EarliestAllowedEndAt"]
    own_server.stop()
    own_server.start()
    client = make_client(own_server.endpoint)
    again = client.describe_account_settings()
    assert again["MinimumThroughputBillingCommitment"] == got
