"""Sequence numbers: 56-digit decimal strings that decode to (shard index, position).

Layout of the integer behind the 56 decimal digits::

    SEQ_BASE (49 x 10^54)         makes every number exactly 56 digits, starting "49" as AWS's
    + (2^47 + position) << 131   global write position, in a 48-bit field whose top bit is set,
                                 so the digits after "49" are never a run of zeros
    + shard_index       << 99    the shard's index in its stream, 32 bits
    + check                      99-bit mix of the fields above: catches typos and edits

Ordering two sequence numbers of one shard as big integers orders them by position, so they are
strictly increasing per shard; positions are global, so children (created later) start above
their parents. No lookup is needed to decode one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

SEQ_DIGITS = 56  # width of AWS sequence numbers; tools pattern-match it
SEQ_BASE = 49 * 10**54
_POSITION_SHIFT = 131
_SHARD_SHIFT = 99
_POSITION_OFFSET = 1 << 47
_SHARD_BITS = 32
_CHECK_BITS = 99
MAX_POSITION = _POSITION_OFFSET - 1
_CHECK_MASK = (1 << _CHECK_BITS) - 1
_SHARD_MASK = (1 << _SHARD_BITS) - 1
# Odd 99-bit constants (digits of pi and e); fixed, so sequence numbers survive restarts.
_MIX_A = 0x3243F6A8885A308D313198A2E | 1
_MIX_B = 0x2B7E151628AED2A6ABF7158809 | 1
_MIX_C = 0x4528_21E6_38D0_1377_BE54_66CF
_MIX_D = 0x5A827999_6ED9EBA1_8F1BBCDC | 1


class SequenceNumber(NamedTuple):
    shard_index: int
    position: int


def _check(position: int, shard_index: int) -> int:
    """A cheap 99-bit mix of the fields: any change to them changes it (odd multipliers are
    bijective modulo 2^99), so an edited or made-up number does not decode. Not a MAC: sequence
    numbers are public, only typos and guesses need catching, and GetRecords encodes thousands.
    """
    return ((position * _MIX_A + shard_index * _MIX_B + _MIX_C) * _MIX_D) & _CHECK_MASK


def encode(shard_index: int, position: int) -> str:
    """The sequence number of the record at ``position`` in shard ``shard_index``."""
    value = (
        SEQ_BASE
        + ((_POSITION_OFFSET + position) << _POSITION_SHIFT)
        + (shard_index << _SHARD_SHIFT)
        + _check(position, shard_index)
    )
    return str(value)


def encode_page(shard_index: int, positions: Iterable[int]) -> list[str]:
    """``encode`` for many positions of one shard (a GetRecords page); the numbers are the same
    as ``encode``'s."""
    return list(map(str, page_values(shard_index, positions)))


def page_values(shard_index: int, positions: Iterable[int]) -> list[int]:
    """The integers behind the sequence numbers of ``positions`` in shard ``shard_index`` (their
    decimal digits are ``encode``'s). The shard's terms are added once, not per record, and the
    check folds its two multipliers into one, modulo 2^99: ((p*A + m)*D) mod 2^99 is
    (p*(A*D mod 2^99) + (m*D mod 2^99)) mod 2^99, one big-integer product per record."""
    base = SEQ_BASE + (_POSITION_OFFSET << _POSITION_SHIFT) + (shard_index << _SHARD_SHIFT)
    ad = (_MIX_A * _MIX_D) & _CHECK_MASK
    md = ((shard_index * _MIX_B + _MIX_C) * _MIX_D) & _CHECK_MASK
    shift, mask = _POSITION_SHIFT, _CHECK_MASK
    return [base + (p << shift) + ((p * ad + md) & mask) for p in positions]


def decode(sequence_number: str) -> SequenceNumber | None:
    """Decode a sequence number, or None if it is not one this server issued."""
    if len(sequence_number) != SEQ_DIGITS or not sequence_number.isdigit():
        return None
    rest = int(sequence_number) - SEQ_BASE
    if rest < 0:
        return None
    position = (rest >> _POSITION_SHIFT) - _POSITION_OFFSET
    shard_index = (rest >> _SHARD_SHIFT) & _SHARD_MASK
    if not 0 <= position <= MAX_POSITION or rest & _CHECK_MASK != _check(position, shard_index):
        return None
    return SequenceNumber(shard_index, position)
