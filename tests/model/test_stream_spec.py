"""NAME[:SHARDS[:MODE]]: the streams `serve --create-stream` and shardflow.testing make."""

from __future__ import annotations

import pytest

from shardflow.model.stream_spec import StreamSpec, StreamSpecError, parse_stream_specs


def test_forms() -> None:
    assert parse_stream_specs(["a", "b:4", "c:2:provisioned", "d::ON_DEMAND", "e:"]) == (
        StreamSpec("a", 1),
        StreamSpec("b", 4),
        StreamSpec("c", 2),
        StreamSpec("d", None, "ON_DEMAND"),
        StreamSpec("e", 1),
    )


def test_several_in_one_value() -> None:
    specs = parse_stream_specs(["x:2, y  z::ON_DEMAND", ""])
    assert [s.name for s in specs] == ["x", "y", "z"]


@pytest.mark.parametrize("text", ["", ":1", "a" * 129, "a/b", "ü"])
def test_names_follow_create_stream(text: str) -> None:
    with pytest.raises(StreamSpecError, match="stream name"):
        parse_stream_specs([text]) if text else parse_stream_specs([":"])


def test_longest_name() -> None:
    assert parse_stream_specs(["a" * 128])[0].name == "a" * 128
