"""Server-side encryption: StartStreamEncryption, StopStreamEncryption, and the EncryptionType
each record was written with.

There is no KMS here. A KeyId is accepted in the four forms KMS resolves (key id, key ARN, alias
name, alias ARN) and never looked up, so a well-formed id of a key that does not exist is
accepted where AWS would answer KMSNotFoundException. Records are stored as they arrive, not
encrypted (docs/decisions.md); encryption changes what the API reports:

- DescribeStream and DescribeStreamSummary report the setting (EncryptionType, KeyId) from the
  call on, while the stream is UPDATING for ``config.update_stream_ms``.
- Encryption applies to records written once the stream is ACTIVE again, never to earlier ones
  (AWS: "Preexisting data in an unencrypted stream is not encrypted after server-side encryption
  is enabled"). Each switch between NONE and KMS is stored with the time it takes effect, so
  PutRecord/PutRecords and GetRecords/SubscribeToShard agree on every record's EncryptionType,
  across restarts too.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from shardflow import errors
from shardflow.engine.access import StreamAccess
from shardflow.engine.streams import Stream
from shardflow.model.enums import EncryptionType

# AWS: "You can successfully apply a new Amazon Web Services KMS key for server-side encryption
# 25 times in a rolling 24-hour period", and disable it 25 times. Counted per stream.
MAX_NEW_KEYS_PER_DAY = 25
MAX_STOPS_PER_DAY = 25
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# KMS key identifiers as KMS accepts them: key id (UUID, or mrk- for multi-Region keys), key ARN,
# alias name (alias/aws/kinesis is the AWS-managed key) and alias ARN.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_KEY_ID = rf"(?:{_UUID}|mrk-[0-9a-fA-F]{{32}})"
_ALIAS = r"alias/[a-zA-Z0-9:/_-]+"
_KMS_ARN = r"arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:"
_KEY_ID_RE = re.compile(rf"{_KEY_ID}")
_ALIAS_RE = re.compile(rf"{_ALIAS}")
_KEY_ARN_RE = re.compile(rf"{_KMS_ARN}key/{_KEY_ID}")
_ALIAS_ARN_RE = re.compile(rf"{_KMS_ARN}{_ALIAS}")


class Encryption:
    """StartStreamEncryption and StopStreamEncryption."""

    def __init__(self, access: StreamAccess) -> None:
        self._access = access

    async def start(self, params: dict[str, Any]) -> None:
        """Encrypt records written from now on with ``KeyId`` (a no-op if it already does)."""
        stream = self._access.active_stream(params)
        key_id = _checked_key_id(params)
        if stream.encryption_type == EncryptionType.KMS and stream.key_id == key_id:
            return
        now = self._access.now_ms()
        # A key other than the one last applied is a new key (stopping and starting again with the
        # same key applies none).
        new_key = key_id != stream.last_key_id
        recent = [t for t in stream.new_keys_ms if now - t < DAY_MS]
        if new_key and len(recent) >= MAX_NEW_KEYS_PER_DAY:
            raise errors.LimitExceededException(
                f"Stream {stream.name} under account {self._access.account_id} has already had"
                f" a new KMS key applied {MAX_NEW_KEYS_PER_DAY} times in the last 24 hours."
            )

        def change() -> None:
            if new_key:
                stream.new_keys_ms = [*recent, now]
            was_encrypting = stream.encryption_type == EncryptionType.KMS
            stream.encryption_type = EncryptionType.KMS
            stream.key_id = stream.last_key_id = key_id
            self._access.begin_update(stream)
            if not was_encrypting:
                _switch(stream, now)

        await self._access.commit(stream, change)

    async def stop(self, params: dict[str, Any]) -> None:
        """Write records unencrypted again (a no-op on a stream that is not encrypted)."""
        stream = self._access.active_stream(params)
        _checked_key_id(params)
        if stream.encryption_type != EncryptionType.KMS:
            return
        now = self._access.now_ms()
        recent = [t for t in stream.encryption_stops_ms if now - t < DAY_MS]
        if len(recent) >= MAX_STOPS_PER_DAY:
            raise errors.LimitExceededException(
                f"Stream {stream.name} under account {self._access.account_id} has already had"
                f" server-side encryption disabled {MAX_STOPS_PER_DAY} times in the last 24 hours."
            )

        def change() -> None:
            stream.encryption_stops_ms = [*recent, now]
            stream.encryption_type = EncryptionType.NONE
            stream.key_id = None
            self._access.begin_update(stream)
            _switch(stream, now)

        await self._access.commit(stream, change)


# GetRecords asks per record: module constants, since an enum attribute costs ~150 ns on 3.11.
_KMS, _NONE = EncryptionType.KMS, EncryptionType.NONE


def record_encryption(stream: Stream, arrival_ms: int) -> str:
    """The EncryptionType of a record of ``stream`` that arrived at ``arrival_ms``.

    A switch applies to records that arrive after its millisecond: every record stored before the
    switch was made has arrived by then, so PutRecord (answered after its commit, perhaps after a
    switch) and GetRecords always agree.
    """
    switches = stream.kms_switches_ms
    if not switches or arrival_ms <= switches[0]:
        return _NONE
    return _KMS if bisect.bisect_left(switches, arrival_ms) % 2 else _NONE


def check_kms_key_id(key_id: str) -> None:
    """Accept the four forms KMS resolves; refuse anything else, as AWS does without KMS."""
    if key_id.startswith("arn:"):
        if not (_KEY_ARN_RE.fullmatch(key_id) or _ALIAS_ARN_RE.fullmatch(key_id)):
            raise errors.InvalidArgumentException(
                "Received KeyId ARN is not a properly formatted ARN."
            )
    elif not (_KEY_ID_RE.fullmatch(key_id) or _ALIAS_RE.fullmatch(key_id)):
        raise errors.InvalidArgumentException(
            "Received KeyId is not a properly formatted Alias or GUID."
        )


def _checked_key_id(params: dict[str, Any]) -> str:
    if params["EncryptionType"] != EncryptionType.KMS:
        # AWS's answer to EncryptionType NONE, as terraform-provider-aws recorded it.
        raise errors.InvalidArgumentException("Encryption type cannot be NONE.")
    key_id: str = params["KeyId"]
    check_kms_key_id(key_id)
    return key_id


def _switch(stream: Stream, now: int) -> None:
    """Record a switch between NONE and KMS, effective when the stream is ACTIVE again.

    Switches older than every record the stream can still return are dropped in pairs (a pair
    only classifies records between them), so the list stays short.
    """
    switches = stream.kms_switches_ms
    horizon = now - stream.retention_hours * HOUR_MS - DAY_MS  # a day's margin for the sweep
    while len(switches) >= 2 and switches[1] < horizon:
        switches = switches[2:]
    effective = max(stream.ready_at_ms, switches[-1] if switches else 0)
    stream.kms_switches_ms = [*switches, effective]
