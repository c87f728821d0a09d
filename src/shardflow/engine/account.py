"""Account settings: DescribeAccountSettings and UpdateAccountSettings.

The only setting is the minimum throughput billing commitment for on-demand streams. It changes
nothing here (there is no bill), but its state is kept as AWS reports it: enabling starts a
commitment that cannot end before a year has passed; disabling earlier leaves it
ENABLED_UNTIL_EARLIEST_ALLOWED_END. Stored in the ``meta`` table, so a restart keeps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from shardflow.engine.streams import now_ms

if TYPE_CHECKING:
    from shardflow.engine.engine import Engine

META_KEY = "account_settings"
MIN_COMMITMENT_MS = 365 * 86_400_000  # AWS: a commitment lasts at least a year


class AccountSettings:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._commitment: dict[str, Any] = {"Status": "DISABLED"}  # epoch ms inside

    def load(self, meta: dict[str, Any]) -> None:
        stored = meta.get(META_KEY)
        if stored is not None:
            self._commitment = orjson.loads(stored)

    def describe(self) -> dict[str, Any]:
        return {"MinimumThroughputBillingCommitment": self._wire()}

    async def update(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params["MinimumThroughputBillingCommitment"]["Status"]
        now = now_ms()
        current = dict(self._commitment)
        if current["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" and now >= current.get(
            "EarliestAllowedEndAt", 0
        ):
            current = {"Status": "DISABLED", "EndedAt": current["EarliestAllowedEndAt"]}
        if wanted == "ENABLED":
            if current["Status"] != "ENABLED":
                started = current.get("StartedAt") if current["Status"] != "DISABLED" else None
                started = started or now
                current = {
                    "Status": "ENABLED",
                    "StartedAt": started,
                    "EarliestAllowedEndAt": started + MIN_COMMITMENT_MS,
                }
        elif current["Status"] == "ENABLED":
            earliest = current["EarliestAllowedEndAt"]
            if now < earliest:
                current = {**current, "Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END"}
                current["EndedAt"] = earliest
            else:
                current = {**current, "Status": "DISABLED", "EndedAt": now}
        await self.engine.store.execute(
            [
                (
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (META_KEY, orjson.dumps(current).decode()),
                )
            ]
        )
        self._commitment = current
        return {"MinimumThroughputBillingCommitment": self._wire()}

    def _wire(self) -> dict[str, Any]:
        """Timestamps leave as epoch seconds, as handlers return them."""
        commitment = dict(self._commitment)
        if (
            commitment["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
            and now_ms() >= commitment["EarliestAllowedEndAt"]
        ):
            commitment["Status"] = "DISABLED"
        return {k: v / 1000 if k != "Status" else v for k, v in commitment.items()}
