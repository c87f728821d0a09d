"""The suite's scheduling list (tests/conftest.py LONGEST_FILES) names files that exist: a renamed
or split file would silently fall back to the quick files' place and gate the end of the run."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FILES, pytest_collection_modifyitems

REPO = Path(__file__).resolve().parent.parent


def test_every_listed_file_exists_once() -> None:
    missing = [path for path in LONGEST_FILES if not (REPO / path).is_file()]
    assert missing == []
    assert len(set(LONGEST_FILES)) == len(LONGEST_FILES)


def test_listed_files_go_first_in_their_order_and_keep_their_own_order() -> None:
    class Item:  # the one attribute the hook reads
        def __init__(self, nodeid: str) -> None:
            self.nodeid = nodeid

    first, second = LONGEST_FILES[0], LONGEST_FILES[1]
    ids = ["tests/test_quick.py::a", f"{second}::x", f"{first}::b", f"{first}::a", f"{second}::y"]
    items = [Item(nodeid) for nodeid in ids]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.nodeid for item in items] == [
        f"{first}::b",
        f"{first}::a",
        f"{second}::x",
        f"{second}::y",
        "tests/test_quick.py::a",
    ]
