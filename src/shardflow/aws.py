"""Kinesis clients from the standard AWS settings: the one place client commands build them.

Nothing here knows about the local server: the endpoint comes from ``--endpoint-url`` or the
standard ``AWS_ENDPOINT_URL_KINESIS`` / ``AWS_ENDPOINT_URL`` settings, the region and credentials
from the usual chain (arguments, environment, ~/.aws). Without an endpoint override the clients
talk to AWS itself.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

# Local servers accept any credentials and region; these are used only when an endpoint is
# overridden and the standard chain finds none, so that `--endpoint-url` alone is enough on a
# fresh machine. Against AWS itself (no override) both must come from the user's settings.
_PLACEHOLDER_CREDENTIALS = {"aws_access_key_id": "shardflow", "aws_secret_access_key": "shardflow"}
_PLACEHOLDER_REGION = "us-east-1"


class ClientSetupError(RuntimeError):
    """The AWS settings are incomplete; the message says what to set."""


def endpoint_override(endpoint_url: str | None) -> str | None:
    """The endpoint in force: the argument, else the standard environment settings."""
    return (
        endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_KINESIS")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )


def kinesis_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: boto3.session.Session | None = None,
    config: BotoConfig | None = None,
) -> Any:
    """A botocore Kinesis client configured from arguments and the standard AWS settings."""
    session = session or boto3.session.Session()
    endpoint = endpoint_override(endpoint_url)
    # boto3 reads AWS_DEFAULT_REGION; the other AWS SDKs and the CLI v2 read AWS_REGION too.
    region = (
        region
        or session.region_name
        or os.environ.get("AWS_REGION")
        or (_PLACEHOLDER_REGION if endpoint else None)
    )
    if not region:
        raise ClientSetupError(
            "no AWS region: pass --region, or set AWS_REGION (or a region in ~/.aws/config)"
        )
    extra: dict[str, str] = {}
    if endpoint and session.get_credentials() is None:
        extra = dict(_PLACEHOLDER_CREDENTIALS)
    return session.client(
        "kinesis", region_name=region, endpoint_url=endpoint, config=config, **extra
    )


def cloudwatch_endpoint(kinesis_endpoint_url: str | None) -> str | None:
    """CloudWatch's endpoint: ``AWS_ENDPOINT_URL_CLOUDWATCH``, else the Kinesis one in force (a
    Shardflow server answers both on one port), else AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH") or endpoint_override(kinesis_endpoint_url)


def cloudwatch_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    session: boto3.session.Session | None = None,
    config: BotoConfig | None = None,
) -> Any:
    """A botocore CloudWatch client, set up as ``kinesis_client`` (``endpoint_url`` is CloudWatch's
    own: see ``cloudwatch_endpoint``)."""
    session = session or boto3.session.Session()
    region = (
        region
        or session.region_name
        or os.environ.get("AWS_REGION")
        or (_PLACEHOLDER_REGION if endpoint_url else None)
    )
    if not region:
        raise ClientSetupError(
            "no AWS region: pass --region, or set AWS_REGION (or a region in ~/.aws/config)"
        )
    extra: dict[str, str] = {}
    if endpoint_url and session.get_credentials() is None:
        extra = dict(_PLACEHOLDER_CREDENTIALS)
    return session.client(
        "cloudwatch", region_name=region, endpoint_url=endpoint_url, config=config, **extra
    )
