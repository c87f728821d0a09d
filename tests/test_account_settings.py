"""DescribeAccountSettings and UpdateAccountSettings: the minimum throughput billing commitment.

A server of its own: account settings are shared by every test of a server. The transitions after
the 24-hour window are checked on the rule itself (engine.account.next_commitment) with a clock
passed in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shardflow.engine.account import next_commitment, settled
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
from tests.support import ServerProcess, server_of_its_own

DESCRIBE, UPDATE = "DescribeAccountSettings", "UpdateAccountSettings"
DAY_S = 86_400  # AWS: a commitment cannot end before 24 hours
DAY_MS = DAY_S * 1000


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from server_of_its_own(tmp_path_factory.mktemp("account") / "d")


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
    assert got["Status"] == "ENABLED" and "EndedAt" not in got
    started = got["StartedAt"].timestamp()
    assert before - 5 <= started <= time.time() + 5
    assert got["EarliestAllowedEndAt"].timestamp() - started == pytest.approx(DAY_S, abs=1)
    assert client.describe_account_settings()["MinimumThroughputBillingCommitment"] == got
    enabled = got
    # warm throughput is available while the commitment is in force
    client.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    client.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=6)
    # disabling within the first 24 hours schedules the end at the earliest allowed end
    got = client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})[
        "MinimumThroughputBillingCommitment"
    ]
    assert got["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert got["EndedAt"] == got["EarliestAllowedEndAt"] == enabled["EarliestAllowedEndAt"]
    assert got["StartedAt"] == enabled["StartedAt"]
    summary = client.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert summary["WarmThroughput"] == {"TargetMiBps": 6, "CurrentMiBps": 6}  # still in force
    client.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=8)
    own_server.stop()
    own_server.start()
    client = make_client(own_server.endpoint)
    again = client.describe_account_settings()
    assert again["MinimumThroughputBillingCommitment"] == got
    # enabling again before the end cancels it: the same commitment goes on
    got = client.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})[
        "MinimumThroughputBillingCommitment"
    ]
    assert got == enabled


NOW = 1_700_000_000_000


def test_commitment_rules() -> None:
    """The transitions around the 24-hour window, at chosen times (epoch ms)."""
    disabled = {"Status": "DISABLED"}
    enabled = next_commitment(disabled, "ENABLED", NOW)
    assert enabled == {"Status": "ENABLED", "StartedAt": NOW, "EarliestAllowedEndAt": NOW + DAY_MS}
    assert next_commitment(enabled, "ENABLED", NOW + 5) == enabled
    # disabling inside the window schedules the end; enabling before it cancels the end
    pending = next_commitment(enabled, "DISABLED", NOW + 1000)
    assert pending == {
        **enabled,
        "Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
        "EndedAt": NOW + DAY_MS,
    }
    assert next_commitment(pending, "DISABLED", NOW + 2000) == pending
    assert next_commitment(pending, "ENABLED", NOW + DAY_MS - 1) == enabled
    # the scheduled end passes: DISABLED, ended at the earliest allowed end
    ended = {**enabled, "Status": "DISABLED", "EndedAt": NOW + DAY_MS}
    assert settled(pending, NOW + DAY_MS) == ended
    assert next_commitment(pending, "DISABLED", NOW + DAY_MS + 5) == ended
    # after the window, disabling ends it at once; enabling again starts a new commitment
    assert next_commitment(enabled, "DISABLED", NOW + 2 * DAY_MS) == {
        **enabled,
        "Status": "DISABLED",
        "EndedAt": NOW + 2 * DAY_MS,
    }
    later = NOW + 3 * DAY_MS
    assert next_commitment(ended, "ENABLED", later) == {
        "Status": "ENABLED",
        "StartedAt": later,
        "EarliestAllowedEndAt": later + DAY_MS,
    }
    assert next_commitment(disabled, "DISABLED", NOW) == disabled
