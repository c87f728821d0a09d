"""Resource-policy documents as PutResourcePolicy checks them (no server needed)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from shardflow.engine.policies import kinesis_actions
from shardflow.model.policy_document import MAX_POLICY_BYTES, InvalidPolicy, check_policy

STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
CONSUMER = f"{STREAM}/consumer/reader:1700000000"
ACTIONS = kinesis_actions()


def _policy(**statement: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/reader"},
                "Action": ["kinesis:DescribeStreamSummary", "kinesis:GetRecords"],
                "Resource": STREAM,
                **statement,
            }
        ],
    }


def _check(document: Any, arn: str = STREAM) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    check_policy(text, arn, ACTIONS)


def _without(key: str) -> dict[str, Any]:
    document = _policy()
    del document["Statement"][0][key]
    return document


def _edit(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(_policy())
    change(document)
    return document


@pytest.mark.parametrize(
    "document",
    [
        _policy(),
        {**_policy(), "Id": "sharing", "Version": "2008-10-17"},
        {"Statement": _policy()["Statement"][0]},  # one statement, no Version
        _policy(Sid="read", Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}),
        _policy(Principal="*"),
        _policy(Principal={"AWS": "*"}),
        _policy(Principal={"AWS": ["111122223333", "arn:aws:sts::444455556666:assumed-role/r/s"]}),
        _policy(Principal={"Service": "lambda.amazonaws.com"}),
        _policy(Principal={"AWS": "AROAEXAMPLEID1234567"}),
        _policy(Effect="Deny", Action="kinesis:*"),
        _policy(Action="*"),
        _policy(Action=["Kinesis:putrecord", "kinesis:Get*", "kinesis:ListShar?s"]),
        _policy(Resource="*"),
        _policy(Resource=["arn:aws:kinesis:*:*:stream/ord*"]),
        {
            "Statement": [
                {**_policy()["Statement"][0], "Sid": "a"},
                {**_policy()["Statement"][0], "Sid": "b", "Effect": "Deny"},
            ]
        },
    ],
)
def test_accepted(document: dict[str, Any]) -> None:
    _check(document)


def test_negated_elements_accepted() -> None:
    statement = _policy()["Statement"][0]
    for plain in ("Principal", "Action", "Resource"):
        statement[f"Not{plain}"] = statement.pop(plain)
    statement["Effect"] = "Deny"
    statement["NotResource"] = "arn:aws:kinesis:us-east-1:000000000000:stream/other"
    _check({"Statement": [statement]})


def test_consumer_policy_names_the_consumer() -> None:
    _check(_policy(Resource=CONSUMER, Action="kinesis:SubscribeToShard"), CONSUMER)
    # CloudFormation/CDK write the creation timestamp as a wildcard.
    _check(_policy(Resource=f"{STREAM}/consumer/reader:*"), CONSUMER)
    with pytest.raises(InvalidPolicy, match="does not match"):
        _check(_policy(), CONSUMER)  # the stream's ARN is not the consumer's


def test_size_limit() -> None:
    padding = MAX_POLICY_BYTES - len(json.dumps(_policy(Sid="")))
    _check(_policy(Sid="x" * padding))
    with pytest.raises(InvalidPolicy, match=f"maximum size of {MAX_POLICY_BYTES} bytes"):
        _check(_policy(Sid="x" * (padding + 1)))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "Policy is not a valid JSON policy document."),
        ("[1, 2]", "Policy is not a valid JSON policy document."),
        ("", "Policy is not a valid JSON policy document."),
        ({**_policy(), "Extra": 1}, "Policy has an unsupported element: Extra."),
        ({**_policy(), "Version": "2020-01-01"}, "Policy has an unsupported Version: 2020-01-01."),
        ({**_policy(), "Id": 5}, "Policy Id must be a string."),
        ({"Version": "2012-10-17"}, "Policy must have a Statement"),
        ({"Statement": []}, "Policy must have a Statement"),
        ({"Statement": ["x"]}, "Policy statement 1 is not a JSON object."),
        (_policy(Effects="Allow"), "Policy statement 1 has an unsupported element: Effects."),
        (_policy(Effect="allow"), "Policy statement 1 must have an Effect of Allow or Deny."),
        (_without("Effect"), "must have an Effect of Allow or Deny."),
        (_without("Principal"), "Policy statement 1 must have a Principal or a NotPrincipal."),
        (_policy(NotPrincipal="*"), "Policy statement 1 has both Principal and NotPrincipal."),
        (_policy(Principal={"Users": "x"}), "unsupported principal type: Users."),
        (_policy(Principal={}), "Policy statement 1 Principal must be * or an object"),
        (_policy(Principal={"AWS": "bob"}), "has an invalid AWS principal: bob."),
        (_policy(Principal={"AWS": "12345"}), "has an invalid AWS principal: 12345."),
        (_policy(Principal={"AWS": []}), "must be a string or a non-empty list of strings."),
        (_without("Action"), "Policy statement 1 must have a Action or a NotAction."),
        (_policy(Action="s3:GetObject"), "s3:GetObject is not a Kinesis Data Streams action."),
        (_policy(Action="kinesis:Fly"), "kinesis:Fly is not a Kinesis Data Streams action."),
        (_policy(Action="kinesis:Zz*"), "kinesis:Zz* is not a Kinesis Data Streams action."),
        (_policy(Action="PutRecord"), "PutRecord is not a Kinesis Data Streams action."),
        (_policy(Action=[]), "Action must be a string or a non-empty list of strings."),
        (_policy(Action=[1]), "Action must be a string or a non-empty list of strings."),
        (_without("Resource"), "Policy statement 1 must have a Resource or a NotResource."),
        (
            _policy(Resource="arn:aws:kinesis:us-east-1:000000000000:stream/other"),
            "Policy statement 1 Resource arn:aws:kinesis:us-east-1:000000000000:stream/other does"
            " not match the ARN of the resource the policy is attached to"
            f" ({STREAM}).",
        ),
        (_policy(Resource="orders"), "Resource orders does not match"),
        (_policy(Sid=3), "Policy statement 1 has a Sid that is not a string."),
        (_policy(Condition="yes"), "Condition must map operators to objects of keys."),
        (
            _edit(lambda d: d["Statement"].extend(copy.deepcopy(d["Statement"]))),
            None,  # two statements without Sids are fine
        ),
        (
            _edit(lambda d: d["Statement"].extend([{**d["Statement"][0], "Sid": "s"}] * 2)),
            "Policy statement 3 repeats the Sid s: Sids must be unique.",
        ),
    ],
)
def test_refused(document: Any, message: str | None) -> None:
    if message is None:
        _check(document)
        return
    with pytest.raises(InvalidPolicy) as excinfo:
        _check(document)
    assert message in str(excinfo.value)
