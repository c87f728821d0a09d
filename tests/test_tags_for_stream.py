"""AddTagsToStream, RemoveTagsFromStream and ListTagsForStream: serialization, validation and
functionality, with AWS's errors (kinesalite test/addTagsToStream.js, removeTagsFromStream.js,
listTagsForStream.js; the limit is 50 tags per stream and ':' is allowed, as AWS now has it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    ACCOUNT_ID,
    NOT_NULL,
    assert_error,
    assert_serialization,
    assert_validation,
    client_error,
    max_length,
    max_value,
    min_length,
    min_value,
    nested,
    not_found_message,
    pattern_constraint,
    raw_call,
    serialization_params,
    stream_arn,
    unique_name,
    validation_message,
)

ADD = "AddTagsToStream"
REMOVE = "RemoveTagsFromStream"
LIST = "ListTagsForStream"
INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white"
    " space, _ . / = + - % @."
)


def _tags(kinesis: Any, name: str) -> dict[str, str]:
    got = kinesis.list_tags_for_stream(StreamName=name)
    return {t["Key"]: t.get("Value", "") for t in got["Tags"]}


class TestSerialization:
    @pytest.mark.parametrize(
        ("target", "base", "path", "value", "message"),
        [
            (ADD, {"Tags": {"a": "b"}}, *case)
            for case in serialization_params(
                {"StreamName": "String", "Tags": "Map", "Tags.a": "String"}
            )
        ]
        + [
            (REMOVE, {"TagKeys": ["a"]}, *case)
            for case in serialization_params({"StreamName": "String", "TagKeys": "List"})
        ]
        + [
            (LIST, {}, *case)
            for case in serialization_params(
                {"StreamName": "String", "ExclusiveStartTagKey": "String", "Limit": "Integer"}
            )
        ],
    )
    def test_wrong_json_type(
        self, endpoint: str, target: str, base: dict[str, Any], path: str, value: Any, message: str
    ) -> None:
        body = nested(path, value, {"StreamName": unique_name(), **base})
        assert_serialization(raw_call(endpoint, target, body), message)


class TestValidation:
    def test_add_no_tags(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, ADD, {"StreamName": unique_name()}),
            [validation_message(None, "tags", NOT_NULL)],
        )

    def test_add_empty_tags_and_stream_name(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, ADD, {"StreamName": "", "Tags": {}}),
            [
                validation_message("{}", "tags", min_length(1)),
                validation_message("", "streamName", pattern_constraint()),
                validation_message("", "streamName", min_length(1)),
            ],
        )

    def test_remove_empty_keys(self, endpoint: str) -> None:
        assert_validation(
            raw_call(endpoint, REMOVE, {"StreamName": unique_name(), "TagKeys": []}),
            [validation_message("[]", "tagKeys", min_length(1))],
        )

    def test_remove_too_many_keys(self, endpoint: str) -> None:
        keys = [str(i) for i in range(51)]
        assert_validation(
            raw_call(endpoint, REMOVE, {"StreamName": unique_name(), "TagKeys": keys}),
            [validation_message(f"[{', '.join(keys)}]", "tagKeys", max_length(50))],
        )

    def test_list_limits(self, endpoint: str) -> None:
        body = {"StreamName": unique_name(), "ExclusiveStartTagKey": "", "Limit": 0}
        assert_validation(
            raw_call(endpoint, LIST, body),
            [
                validation_message(0, "limit", min_value(1)),
                validation_message("", "exclusiveStartTagKey", min_length(1)),
            ],
        )
        body = {"StreamName": unique_name(), "Limit": 51}
        assert_validation(
            raw_call(endpoint, LIST, body), [validation_message(51, "limit", max_value(50))]
        )

    @pytest.mark.parametrize("target", [ADD, REMOVE, LIST])
    def test_stream_not_found(self, endpoint: str, target: str) -> None:
        name = unique_name()
        body = {"StreamName": name, "Tags": {"a": "b"}, "TagKeys": ["a"]}
        body = {k: v for k, v in body.items() if target != LIST or k == "StreamName"}
        if target == ADD:
            body.pop("TagKeys")
        if target == REMOVE:
            body.pop("Tags")
        assert_error(
            raw_call(endpoint, target, body), "ResourceNotFoundException", not_found_message(name)
        )

    @pytest.mark.parametrize("text", ["abc;def", "abc\tdef", "abc\ndef", "abc,def"])
    def test_add_invalid_characters(self, endpoint: str, stream: str, text: str) -> None:
        for tags in ({text: "1"}, {"a": text}):
            assert_error(
                raw_call(endpoint, ADD, {"StreamName": stream, "Tags": tags}),
                "InvalidArgumentException",
                INVALID_CHARACTERS,
            )

    def test_add_percent(self, endpoint: str, stream: str) -> None:
        assert_error(
            raw_call(endpoint, ADD, {"StreamName": stream, "Tags": {"a": "abc%def"}}),
            "InvalidArgumentException",
            f"Failed to add tags to stream {stream} under account {ACCOUNT_ID} because some tags"
            " contained illegal characters. The allowed characters are Unicode letters,"
            " white-spaces, '_',',','/','=','+','-','@'.",
        )

    def test_remove_invalid_characters(self, endpoint: str, stream: str) -> None:
        assert_error(
            raw_call(endpoint, REMOVE, {"StreamName": stream, "TagKeys": ["abc;def"]}),
            "InvalidArgumentException",
            INVALID_CHARACTERS,
        )
        assert_error(
            raw_call(endpoint, REMOVE, {"StreamName": stream, "TagKeys": ["abc%def"]}),
            "InvalidArgumentException",
            f"Failed to remove tags from stream {stream} under account {ACCOUNT_ID} because some"
            " tags contained illegal characters. The allowed characters are Unicode letters,"
            " white-spaces, '_',',','/','=','+','-','@'.",
        )

    def test_more_than_50_tags(self, kinesis: Any, stream: str) -> None:
        kinesis.add_tags_to_stream(StreamName=stream, Tags={f"k{i}": "" for i in range(45)})
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.add_tags_to_stream(StreamName=stream, Tags={f"n{i}": "" for i in range(6)})
        assert client_error(exc)[1] == (
            f"Failed to add tags to stream {stream} under account {ACCOUNT_ID} because a given"
            " stream cannot have more than 50 tags associated with it."
        )
        # overwriting existing keys does not count twice
        kinesis.add_tags_to_stream(StreamName=stream, Tags={f"k{i}": "x" for i in range(45)})
        kinesis.add_tags_to_stream(StreamName=stream, Tags={f"n{i}": "" for i in range(5)})
        assert len(_tags(kinesis, stream)) == 50

    def test_create_stream_tags_are_checked(self, kinesis: Any) -> None:
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as exc:
            kinesis.create_stream(StreamName=unique_name(), ShardCount=1, Tags={"a;b": "c"})
        assert client_error(exc)[1] == INVALID_CHARACTERS


class TestFunctionality:
    def test_add_list_remove(self, kinesis: Any, endpoint: str, stream: str) -> None:
        tags = {"a": "a", "ü0 _.": "a", "/=+-@:": "a", "b": "ü0 _./=+-@:", "c": ""}
        status, _, body = raw_call(endpoint, ADD, {"StreamName": stream, "Tags": tags})
        assert status == 200 and body in (None, {}), body
        assert _tags(kinesis, stream) == tags
        kinesis.add_tags_to_stream(StreamARN=stream_arn(stream), Tags={"a": "b"})
        assert _tags(kinesis, stream) == {**tags, "a": "b"}
        status, _, body = raw_call(
            endpoint, REMOVE, {"StreamName": stream, "TagKeys": ["ü0 _.", "/=+-@:", "zz"]}
        )
        assert status == 200 and body in (None, {}), body
        assert _tags(kinesis, stream) == {"a": "b", "b": "ü0 _./=+-@:", "c": ""}

    def test_list_sorted_and_paged(self, kinesis: Any, stream: str) -> None:
        kinesis.add_tags_to_stream(StreamName=stream, Tags={k: k.upper() for k in "dbeac"})
        page = kinesis.list_tags_for_stream(StreamName=stream, Limit=2)
        assert page["Tags"] == [{"Key": "a", "Value": "A"}, {"Key": "b", "Value": "B"}]
        assert page["HasMoreTags"] is True
        rest = kinesis.list_tags_for_stream(StreamName=stream, ExclusiveStartTagKey="b", Limit=3)
        assert [t["Key"] for t in rest["Tags"]] == ["c", "d", "e"]
        assert rest["HasMoreTags"] is False

    def test_no_tags(self, kinesis: Any, stream: str) -> None:
        got = kinesis.list_tags_for_stream(StreamName=stream)
        assert (got["Tags"], got["HasMoreTags"]) == ([], False)
