"""The S3 client of channel deliveries: any S3 endpoint (AWS, or a local one named by
``serve --s3-endpoint-url`` or botocore's ``AWS_ENDPOINT_URL_S3``), with the standard AWS
credentials. Calls block, so workers run them in a thread."""

from __future__ import annotations

import threading
from typing import Any


def bucket_name(bucket_arn: str) -> str:
    """``arn:aws:s3:::name`` -> ``name``."""
    return bucket_arn.split(":::", 1)[1]


class S3Writer:
    """PutObject and HeadBucket through one lazily created botocore client."""

    def __init__(self, region: str, endpoint_url: str | None) -> None:
        self._region = region
        self._endpoint_url = endpoint_url
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import botocore.session
                from botocore.config import Config

                session = botocore.session.get_session()
                self._client = session.create_client(
                    "s3",
                    region_name=self._region,
                    endpoint_url=self._endpoint_url,
                    config=Config(
                        s3={"addressing_style": "path"} if self._endpoint_url else {},
                        retries={"mode": "standard", "max_attempts": 5},
                    ),
                )
            return self._client

    def problem(self, bucket_arn: str, owner: str) -> str | None:
        """Why objects cannot be written to the bucket, or None."""
        name = bucket_name(bucket_arn)
        try:
            self._s3().head_bucket(Bucket=name, ExpectedBucketOwner=owner)
        except Exception as exc:  # botocore's errors, credentials, connection refused
            return f"Cannot write to the Amazon S3 bucket {name}: {exc}"
        return None

    def put(
        self, bucket_arn: str, owner: str, key: str, body: bytes, storage_class: str | None
    ) -> None:
        """PutObject; S3 refuses it (403) if the bucket's owner is not ``owner``."""
        args: dict[str, Any] = {
            "Bucket": bucket_name(bucket_arn),
            "Key": key,
            "Body": body,
            "ExpectedBucketOwner": owner,
        }
        if storage_class:
            args["StorageClass"] = storage_class
        self._s3().put_object(**args)
