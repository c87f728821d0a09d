"""Account settings: DescribeAccountSettings and UpdateAccountSettings.

The only setting is the minimum throughput billing commitment (AWS's "On-demand Advantage"). Nothing
is billed here, but the commitment keeps AWS's states and rules: enabling starts a commitment that
cannot end before 24 hours have passed; disabling earlier schedules the end
(ENABLED_UNTIL_EARLIEST_ALLOWED_END) and enabling again before then cancels it. While it is in
force, ON_DEMAND streams may have a warm throughput and up to 50 registered consumers (20
otherwise). Stored in the ``meta`` table, so a restart keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from shardflow import errors
from shardflow.clock import SYSTEM_CLOCK, Clock
from shardflow.engine.tenancy import account_or

SaveSetting = Callable[[str, str], Awaitable[None]]  # (meta key, JSON value), stored durably

META_KEY = "account_settings"
MIN_COMMITMENT_MS = 86_400_000  # AWS: a commitment lasts at least 24 hours
PENDING_END = "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
_TIMESTAMPS = ("StartedAt", "EndedAt", "EarliestAllowedEndAt")


def settled(commitment: dict[str, Any], now: int) -> dict[str, Any]:
    """The commitment as it stands at ``now``: a scheduled end that has passed is DISABLED."""
    if commitment["Status"] == PENDING_END and now >= commitment["EarliestAllowedEndAt"]:
        return {**commitment, "Status": "DISABLED", "EndedAt": commitment["EarliestAllowedEndAt"]}
    return commitment


def next_commitment(current: dict[str, Any], wanted: str, now: int) -> dict[str, Any]:
    """The commitment after an UpdateAccountSettings asking for ``wanted`` at ``now`` (epoch ms).

    ENABLED starts a commitment (or keeps the one in force, cancelling a scheduled end); DISABLED
    ends it at once when its earliest allowed end has passed, otherwise schedules the end then.
    """
    current = settled(current, now)
    status = current["Status"]
    if wanted == "ENABLED":
        if status == "ENABLED":
            return current
        if status == PENDING_END:  # cancel the scheduled end
            return {k: v for k, v in current.items() if k != "EndedAt"} | {"Status": "ENABLED"}
        return {
            "Status": "ENABLED",
            "StartedAt": now,
            "EarliestAllowedEndAt": now + MIN_COMMITMENT_MS,
        }
    if status != "ENABLED":
        return current  # already disabled, or its end already scheduled
    earliest = current["EarliestAllowedEndAt"]
    if now < earliest:
        return {**current, "Status": PENDING_END, "EndedAt": earliest}
    return {**current, "Status": "DISABLED", "EndedAt": now}


class AccountSettings:
    """The account's commitment, loaded from and saved to the ``meta`` table through
    ``save_setting`` (the metadata repository's)."""

    def __init__(
        self, account_id: str, save_setting: SaveSetting, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._account_id = account_id
        self._clock = clock
        self._save_setting = save_setting
        self._commitment: dict[str, Any] = {"Status": "DISABLED"}  # epoch ms inside

    def load(self, meta: dict[str, Any]) -> None:
        stored = meta.get(META_KEY)
        if stored is not None:
            self._commitment = orjson.loads(stored)

    def describe(self) -> dict[str, Any]:
        return {"MinimumThroughputBillingCommitment": self._wire()}

    async def update(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params["MinimumThroughputBillingCommitment"]["Status"]
        updated = next_commitment(self._commitment, wanted, self._clock.now_ms())
        await self._save_setting(META_KEY, orjson.dumps(updated).decode())
        self._commitment = updated
        return {"MinimumThroughputBillingCommitment": self._wire()}

    def commitment_in_force(self) -> bool:
        """ENABLED, or disabled with its end still ahead: warm throughput is available."""
        return settled(self._commitment, self._clock.now_ms())["Status"] != "DISABLED"

    def require_commitment(self) -> None:
        """Warm throughput needs the commitment; AWS's InvalidArgumentException otherwise."""
        if not self.commitment_in_force():
            raise errors.InvalidArgumentException(
                "Warm throughput is only supported in accounts that have"
                f" MinimumThroughputBillingCommitment enabled. Account"
                f" {account_or(self._account_id)} does not have it enabled."
            )

    def _wire(self) -> dict[str, Any]:
        """Timestamps leave as epoch seconds, as handlers return them."""
        commitment = settled(self._commitment, self._clock.now_ms())
        return {k: v / 1000 if k in _TIMESTAMPS else v for k, v in commitment.items()}
