"""Fault injection: make the server fail on purpose, so clients can prove their retries.

A plan gives, per operation (or ``*`` for all), the probability of each injected error and an
added latency; for PutRecords it can also fail individual entries, as AWS does when a shard is
over its limit. Off by default. Set with ``serve --faults`` or at run time through
``POST /_shardflow/faults`` (see ``server.admin``)::

    {"seed": 7,
     "operations": {
        "PutRecords": {"entry_throttle": 0.2, "entry_internal": 0.01, "latency_ms": 5},
        "GetRecords": {"throttle": 0.1},
        "*": {"internal": 0.001, "unavailable": 0.001}}}
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from shardflow import errors

# The call-level faults a rule may inject, and the error each raises.
CALL_FAULTS = ("throttle", "internal", "unavailable", "limit")
ENTRY_FAULTS = ("entry_throttle", "entry_internal")
ENTRY_THROTTLE_CODE = "ProvisionedThroughputExceededException"
ENTRY_INTERNAL_CODE = "InternalFailure"
INTERNAL_MESSAGE = "Internal service failure."


class FaultPlanError(ValueError):
    """A fault plan that cannot be applied; the message says what is wrong."""


@dataclass
class FaultRule:
    throttle: float = 0.0  # ProvisionedThroughputExceededException for the whole call
    internal: float = 0.0  # InternalFailure (500)
    unavailable: float = 0.0  # ServiceUnavailable (503)
    limit: float = 0.0  # LimitExceededException (control-plane rate limit)
    entry_throttle: float = 0.0  # PutRecords: an entry fails with ProvisionedThroughputExceeded
    entry_internal: float = 0.0  # PutRecords: an entry fails with InternalFailure
    latency_ms: float = 0.0  # added before the call is handled

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> FaultRule:
        if not isinstance(raw, dict):
            raise FaultPlanError(f"{where}: expected an object of fault settings")
        known = set(CALL_FAULTS + ENTRY_FAULTS + ("latency_ms",))
        unknown = set(raw) - known
        if unknown:
            first = sorted(unknown)[0]
            raise FaultPlanError(
                f"{where}: unknown setting {first!r}; known: {', '.join(sorted(known))}"
            )
        for key, value in raw.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise FaultPlanError(f"{where}.{key}: expected a number >= 0")
            if key != "latency_ms" and value > 1:
                raise FaultPlanError(f"{where}.{key}: a probability must be at most 1")
        if sum(raw.get(k, 0) for k in CALL_FAULTS) > 1:
            raise FaultPlanError(f"{where}: call-level probabilities add up to more than 1")
        if sum(raw.get(k, 0) for k in ENTRY_FAULTS) > 1:
            raise FaultPlanError(f"{where}: entry-level probabilities add up to more than 1")
        return cls(**{k: float(v) for k, v in raw.items()})


@dataclass
class FaultPlan:
    operations: dict[str, FaultRule] = field(default_factory=dict)
    seed: int | None = None

    @classmethod
    def from_dict(cls, raw: Any) -> FaultPlan:
        if not isinstance(raw, dict):
            raise FaultPlanError("a fault plan is a JSON object with 'operations' (and 'seed')")
        unknown = set(raw) - {"operations", "seed"}
        if unknown:
            raise FaultPlanError(f"unknown key {sorted(unknown)[0]!r}; expected operations, seed")
        ops = raw.get("operations", {})
        if not isinstance(ops, dict):
            raise FaultPlanError("'operations' maps operation names (or '*') to settings")
        seed = raw.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise FaultPlanError("'seed' must be an integer")
        rules = {
            name: FaultRule.from_dict(rule, f"operations.{name}") for name, rule in ops.items()
        }
        return cls(rules, seed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "operations": {name: asdict(rule) for name, rule in self.operations.items()},
        }


class FaultInjector:
    """Applies the current plan; cheap when no plan is set."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.set_plan(plan or FaultPlan())

    def set_plan(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.active = bool(plan.operations)
        self._rng = random.Random(plan.seed)

    def rule(self, operation: str) -> FaultRule | None:
        if not self.active:
            return None
        ops = self.plan.operations
        return ops.get(operation) or ops.get("*")

    def call_fault(self, rule: FaultRule, message: str) -> errors.KinesisError | None:
        """The error to raise for this call, if the dice say so."""
        roll = self._rng.random()
        for name in CALL_FAULTS:
            chance = getattr(rule, name)
            if roll < chance:
                return _call_error(name, message)
            roll -= chance
        return None

    def entry_faults(self, operation: str, count: int) -> list[str | None]:
        """Per PutRecords entry: None (store it) or the ErrorCode it fails with."""
        rule = self.rule(operation)
        if rule is None or not (rule.entry_throttle or rule.entry_internal):
            return [None] * count
        out: list[str | None] = []
        for _ in range(count):
            roll = self._rng.random()
            if roll < rule.entry_throttle:
                out.append(ENTRY_THROTTLE_CODE)
            elif roll < rule.entry_throttle + rule.entry_internal:
                out.append(ENTRY_INTERNAL_CODE)
            else:
                out.append(None)
        return out


def _call_error(name: str, throttle_message: str) -> errors.KinesisError:
    if name == "throttle":
        return errors.ProvisionedThroughputExceededException(throttle_message)
    if name == "internal":
        return errors.InternalFailure(INTERNAL_MESSAGE)
    if name == "unavailable":
        return errors.ServiceUnavailable("Service Unavailable")
    return errors.LimitExceededException("Rate exceeded.")
