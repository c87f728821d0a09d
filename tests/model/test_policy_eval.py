"""Resource-policy evaluation for a caller of another account (model.policy_eval)."""

from __future__ import annotations

import json

from shardflow.model.policy_eval import Decision, evaluate

ARN = "arn:aws:kinesis:us-east-1:111111111111:stream/s"


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: object, action: object = "kinesis:PutRecord", **extra: object) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": ARN, **extra}


def test_no_policy_is_an_implicit_deny() -> None:
    assert evaluate(None, "222222222222", "PutRecord", ARN) is Decision.IMPLICIT_DENY


def test_principals_of_the_callers_account_match() -> None:
    for principal in (
        {"AWS": "222222222222"},
        {"AWS": "arn:aws:iam::222222222222:root"},
        {"AWS": ["arn:aws:iam::333333333333:root", "arn:aws:iam::222222222222:role/r"]},
        "*",
    ):
        assert evaluate(policy(allow(principal)), "222222222222", "PutRecord", ARN) is (
            Decision.ALLOW
        ), principal
    other = policy(allow({"AWS": "arn:aws:iam::333333333333:root"}))
    assert evaluate(other, "222222222222", "PutRecord", ARN) is Decision.IMPLICIT_DENY


def test_actions_match_case_insensitively_with_wildcards() -> None:
    for action in ("kinesis:PutRecord", "KINESIS:putrecord", "kinesis:Put*", ["kinesis:*"], "*"):
        assert evaluate(policy(allow("*", action)), "2" * 12, "PutRecord", ARN) is Decision.ALLOW
    assert evaluate(policy(allow("*", "kinesis:Get*")), "2" * 12, "PutRecord", ARN) is (
        Decision.IMPLICIT_DENY
    )


def test_an_explicit_deny_wins_and_conditions_are_not_guessed() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kinesis:*", "Resource": ARN}
    both = policy(allow("*"), deny)
    assert evaluate(both, "2" * 12, "PutRecord", ARN) is Decision.EXPLICIT_DENY
    conditional = policy(allow("*", Condition={"Bool": {"aws:SecureTransport": "true"}}))
    assert evaluate(conditional, "2" * 12, "PutRecord", ARN) is Decision.IMPLICIT_DENY


def test_resource_and_not_action() -> None:
    elsewhere = policy(
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": ARN + "-other"}
    )
    assert evaluate(elsewhere, "2" * 12, "PutRecord", ARN) is Decision.IMPLICIT_DENY
    not_action = policy(
        {"Effect": "Allow", "Principal": "*", "NotAction": "kinesis:Delete*", "Resource": ARN}
    )
    assert evaluate(not_action, "2" * 12, "PutRecord", ARN) is Decision.ALLOW
    assert evaluate(not_action, "2" * 12, "DeleteStream", ARN) is Decision.IMPLICIT_DENY
