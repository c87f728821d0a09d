"""The shard index inside a sequence number of AWS's own layout: pure, no I/O.

Shardflow's numbers have their own layout (``model.sequence``), but a client may hand it one
AWS issued, or any digits. AWS reads the shard index out of whatever it is given, and when that
index is not the shard of the call it answers "It encodes shardId-..." rather than "is invalid"
(kinesalite's recordings of AWS). The layout facts, read from those recordings:

- a number below 2^124 is read as 2^124 plus it;
- below 2^129 it is "version 0": hex digits 1-9 are the shard's creation time in seconds,
  digits 28-31 the shard index;
- between 2^185 and 1.5 x 2^185 the last hex digit is the version: in version 2, digits 11-26
  are the record's index in the shard (its top bit must be clear) and digits 38-45 the shard
  index as a signed 32-bit number; version 1 keeps the shard index in the same place;
- a creation time at or past 16025175000 s is refused, as is any other shape.
"""

from __future__ import annotations

__all__ = ["aws_shard_index"]

_V0_BASE = 1 << 124
_V0_END = 1 << 129
_V2_LOW = 1 << 185
_V2_HIGH = 3 << 184  # 1.5 x 2^185
_MAX_CREATE_SECONDS = 16025175000


def aws_shard_index(text: str) -> int | None:
    """The shard index AWS would read from ``text``, or None where AWS finds it invalid."""
    if not text.isdigit():
        return None
    number = int(text)
    if number < _V0_BASE:
        number += _V0_BASE
    digits = format(number, "x")
    if number < _V0_END:
        if int(digits[1:10], 16) >= _MAX_CREATE_SECONDS:
            return None
        return int(digits[28:32], 16)
    if not _V2_LOW < number < _V2_HIGH:
        return None
    version = digits[-1]
    if version == "2":
        if int(digits[11], 16) > 7 or int(digits[1:10], 16) >= _MAX_CREATE_SECONDS:
            return None
    elif version != "1":
        return None
    index = int(digits[38:46], 16)
    return index - (1 << 32) if index >= 1 << 31 else index
