"""The acknowledgement log on its own: last entry wins, torn entries ignored, forgetting, and
compaction keeping every shard's mark."""

from __future__ import annotations

from pathlib import Path

from shardflow.storage import acklog
from shardflow.storage.acklog import AckLog, Mark, missing_count


def test_marks_survive_a_torn_last_entry_and_forgetting(tmp_path: Path) -> None:
    path = tmp_path / acklog.FILE_NAME
    log = AckLog(path)
    log.open()
    log.record({1: Mark(10, 5, 1000), 2: Mark(11, 1, 1000)})
    log.record({1: Mark(20, 9, 2000)})
    log.forget([2])
    log.close()
    with path.open("ab") as f:
        f.write(b"\x01\x02\x03")  # a crash in the middle of an entry
    again = AckLog(path)
    again.load()
    assert again.marks == {1: Mark(20, 9, 2000)}
    assert again.history[1] == [(10, 5), (20, 9)]


def test_a_damaged_entry_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / acklog.FILE_NAME
    log = AckLog(path)
    log.open()
    log.record({1: Mark(10, 5, 1000)})
    log.record({1: Mark(20, 9, 2000)})
    log.close()
    raw = bytearray(path.read_bytes())
    raw[acklog.ENTRY_SIZE + 5] ^= 0xFF  # the second entry
    path.write_bytes(bytes(raw))
    again = AckLog(path)
    again.load()
    assert again.marks == {1: Mark(10, 5, 1000)}


def test_missing_count_is_exact_while_the_history_reaches_back(tmp_path: Path) -> None:
    log = AckLog(tmp_path / acklog.FILE_NAME)
    log.open()
    for position, count in ((10, 5), (20, 9), (30, 12)):
        log.record({7: Mark(position, count, 0)})
    log.close()
    again = AckLog(log.path)
    again.load()
    assert missing_count(again, 7, 20) == (3, True)
    assert missing_count(again, 7, 25) == (3, True)
    assert missing_count(again, 7, 10) == (7, True)
    assert missing_count(again, 7, None) == (12, False)
    assert missing_count(again, 7, 5) == (8, False)  # at least: the history starts at 10


def test_compaction_keeps_one_entry_per_shard(tmp_path: Path) -> None:
    log = AckLog(tmp_path / acklog.FILE_NAME)
    log.open()
    for i in range(100):
        log.record({1: Mark(i, i, 0), 2: Mark(1000 + i, i, 0)})
    log.compact()
    log.record({3: Mark(5, 1, 0)})
    log.close()
    assert log.path.stat().st_size == 3 * acklog.ENTRY_SIZE
    again = AckLog(log.path)
    again.load()
    assert again.marks == {1: Mark(99, 99, 0), 2: Mark(1099, 99, 0), 3: Mark(5, 1, 0)}
