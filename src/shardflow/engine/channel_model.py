"""A channel: its stored document, its state, and the ChannelDescription/ChannelSummary shapes.

The configuration is kept as the request gave it, with AWS's defaults filled in
(``DataFreshnessInSeconds`` 300, an S3 channel's dead-letter queue in its own bucket), so
DescribeChannel returns what the channel really uses. States: CREATING until the delivery
worker has checked the destination, then ACTIVE (or FAILED with ``status_reason``); UPDATING
for ``update_ms`` after UpdateChannel; DELETING for ``delete_ms`` after DeleteChannel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

DEFAULT_FRESHNESS_S = 300  # AWS: DataFreshnessInSeconds defaults to 300
MIN_FRESHNESS_S = 300  # AWS: 300-900 seconds (data-delivery-concepts)
MAX_FRESHNESS_S = 900
DEFAULT_ERROR_PREFIX = "error/"  # an S3 channel's dead-letter prefix when none is given
S3 = "S3"
S3_TABLES = "S3_TABLES"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Channel:
    """One channel, as stored (``doc``) and described."""

    name: str
    arn: str
    channel_id: str
    created_ms: int
    role_arn: str
    stream_arn: str
    stream_created_ms: int
    record_configuration: dict[str, Any]
    destination_type: str  # S3 or S3_TABLES
    destination: dict[str, Any]  # S3DestinationDescription or S3TablesDestinationDescription
    start_position: int  # no backfill: records at or below this store position are not sent
    status: str = "CREATING"
    status_reason: str | None = None
    ready_at_ms: int = 0  # UPDATING turns ACTIVE then
    delete_at_ms: int | None = None
    encryption: dict[str, Any] | None = None
    logging: dict[str, Any] = field(default_factory=lambda: {"CloudWatchLogs": {"Enabled": False}})
    tags: dict[str, str] = field(default_factory=dict)

    def current_status(self, at_ms: int | None = None) -> str:
        at = now_ms() if at_ms is None else at_ms
        if self.delete_at_ms is not None:
            return "DELETING"
        if self.status == "UPDATING" and at >= self.ready_at_ms:
            return "ACTIVE"
        return self.status

    def is_gone(self, at_ms: int | None = None) -> bool:
        at = now_ms() if at_ms is None else at_ms
        return self.delete_at_ms is not None and at >= self.delete_at_ms

    @property
    def freshness_s(self) -> int:
        return int(self.destination["DataFreshnessInSeconds"])

    @property
    def dead_letter(self) -> dict[str, Any]:
        return dict(self.destination["DeadLetterQueueS3Configuration"])

    def doc(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_doc(cls, text: str) -> Channel:
        return cls(**orjson.loads(text))

    # -- wire shapes (timestamps as epoch seconds, as handlers return them) ---------------

    def description(self) -> dict[str, Any]:
        out = self._common() | {
            "ServiceExecutionRoleARN": self.role_arn,
            "StreamConfigurationList": [
                {
                    "StreamARN": self.stream_arn,
                    "StreamCreationTimestamp": self.stream_created_ms / 1000,
                    "RecordConfiguration": self.record_configuration,
                }
            ],
            "LoggingConfiguration": self.logging,
        }
        key = (
            "S3DestinationConfiguration"
            if self.destination_type == S3
            else "S3TablesDestinationConfiguration"
        )
        out[key] = self.destination
        if self.encryption is not None:
            out["EncryptionConfiguration"] = self.encryption
        return out

    def summary(self) -> dict[str, Any]:
        return self._common() | {
            "ChannelDestinationType": self.destination_type,
            "Streams": [
                {
                    "StreamARN": self.stream_arn,
                    "StreamCreationTimestamp": self.stream_created_ms / 1000,
                }
            ],
        }

    def _common(self) -> dict[str, Any]:
        """The fields a description and a summary share (a FAILED channel's reason too)."""
        out: dict[str, Any] = {
            "ChannelName": self.name,
            "ChannelARN": self.arn,
            "ChannelId": self.channel_id,
            "ChannelStatus": self.current_status(),
            "ChannelCreationTimestamp": self.created_ms / 1000,
        }
        if self.status_reason is not None and out["ChannelStatus"] == "FAILED":
            out["ChannelStatusReason"] = self.status_reason
        return out
