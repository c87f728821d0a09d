"""boto3 CloudWatch clients for a test server, in the protocol of one's choice.

boto3 picks the first protocol of the model's ``protocols`` it supports (RPC v2 CBOR today). To
drive the JSON 1.0 and query protocols with botocore's own serializers and parsers, a copy of the
model that lists only that protocol is put first on the loader's search path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

CBOR, JSON, QUERY = "smithy-rpc-v2-cbor", "json", "query"


def cloudwatch(
    endpoint: str, models: Path, protocol: str | None = None, validate: bool = True
) -> Any:
    session = botocore.session.get_session()
    if protocol is not None:
        model = Loader().load_service_model("cloudwatch", "service-2")
        model["metadata"]["protocol"] = protocol
        model["metadata"]["protocols"] = [protocol]
        where = models / protocol
        folder = where / "cloudwatch" / model["metadata"]["apiVersion"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "service-2.json").write_text(json.dumps(model))
        session.get_component("data_loader").search_paths.insert(0, str(where))
    return boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=validate
        ),
    )
