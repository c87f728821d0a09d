"""Tags on streams and consumers: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream and
the ARN-addressed TagResource, UntagResource, ListTagsForResource.

The rules and messages are AWS's as kinesalite's tests recorded them (test/addTagsToStream.js,
test/removeTagsFromStream.js): at most 50 tags on a resource; keys and values of Unicode letters,
digits, spaces and ``_ . / = + - % @``, where ``%`` is refused by a second check with its own
message. ``:`` is accepted too (AWS's tagging rules allow it today) though the recorded messages
do not list it. The model bounds lengths (keys 1-128, values 0-256) before a handler runs.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from shardflow import errors
from shardflow.engine.access import ResolveResource, StreamAccess

if TYPE_CHECKING:
    from shardflow.engine.streams import RegisteredConsumer, Stream

MAX_TAGS = 50  # AWS: tags per stream (and per consumer)
DEFAULT_LIST_LIMIT = 50  # ListTagsForStream's Limit is at most 50: one page holds every tag
_ALLOWED_PUNCTUATION = frozenset("_./=+-%@: ")
RESERVED_PREFIX = "aws:"  # AWS keeps tag keys starting with aws: for its own use
INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white"
    " space, _ . / = + - % @."
)
_ILLEGAL_PERCENT = (
    " because some tags contained illegal characters. The allowed characters are Unicode"
    " letters, white-spaces, '_',',','/','=','+','-','@'."
)


def _valid_text(text: str) -> bool:
    return all(c in _ALLOWED_PUNCTUATION or unicodedata.category(c)[0] in "LN" for c in text)


def check_tags(tags: dict[str, str], existing: dict[str, str], target: str, account: str) -> None:
    """AWS's checks of tags about to be added to ``target`` (``stream NAME``), in AWS's order."""
    texts = [*tags, *tags.values()]
    if not all(_valid_text(t) for t in texts):
        raise errors.InvalidArgumentException(INVALID_CHARACTERS)
    if any("%" in t for t in texts):
        raise errors.InvalidArgumentException(
            f"Failed to add tags to {target} under account {account}{_ILLEGAL_PERCENT}"
        )
    reserved = sorted(k for k in tags if k.lower().startswith(RESERVED_PREFIX))
    if reserved:
        raise errors.InvalidArgumentException(
            f"Failed to add tags to {target} under account {account} because tag keys"
            f" starting with '{RESERVED_PREFIX}' are reserved for AWS use: {', '.join(reserved)}."
        )
    if len(existing.keys() | tags.keys()) > MAX_TAGS:
        raise errors.InvalidArgumentException(
            f"Failed to add tags to {target} under account {account} because a given"
            f" {target.split()[0]} cannot have more than {MAX_TAGS} tags associated with it."
        )


def check_tag_keys(keys: list[str], target: str, account: str) -> None:
    if not all(_valid_text(k) for k in keys):
        raise errors.InvalidArgumentException(INVALID_CHARACTERS)
    if any("%" in k for k in keys):
        raise errors.InvalidArgumentException(
            f"Failed to remove tags from {target} under account {account}{_ILLEGAL_PERCENT}"
        )


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """The Tag list shape, ordered by key as AWS lists them."""
    return [{"Key": k, "Value": tags[k]} for k in sorted(tags)]


class Tagger:
    def __init__(self, access: StreamAccess, resource: ResolveResource) -> None:
        self._access = access
        self._resource = resource

    @property
    def _account(self) -> str:
        return self._access.account_id

    # -- by stream name or ARN -------------------------------------------------------------

    async def add_to_stream(self, params: dict[str, Any]) -> None:
        stream = self._access.find(params)
        await self._add(stream, None, params["Tags"])

    async def remove_from_stream(self, params: dict[str, Any]) -> None:
        stream = self._access.find(params)
        await self._remove(stream, None, params["TagKeys"])

    def list_for_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        stream = self._access.find(params)
        keys = sorted(stream.tags)
        start = params.get("ExclusiveStartTagKey")
        if start is not None:
            keys = [k for k in keys if k > start]
        limit = params.get("Limit") or DEFAULT_LIST_LIMIT
        page = keys[:limit]
        return {
            "Tags": [{"Key": k, "Value": stream.tags[k]} for k in page],
            "HasMoreTags": len(keys) > limit,
        }

    # -- by resource ARN (a stream or a consumer) ------------------------------------------

    async def tag_resource(self, params: dict[str, Any]) -> None:
        stream, consumer = self._resource(params["ResourceARN"])
        await self._add(stream, consumer, params["Tags"])

    async def untag_resource(self, params: dict[str, Any]) -> None:
        stream, consumer = self._resource(params["ResourceARN"])
        await self._remove(stream, consumer, params["TagKeys"])

    def list_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        stream, consumer = self._resource(params["ResourceARN"])
        return {"Tags": tag_list(consumer.tags if consumer is not None else stream.tags)}

    # -- shared ----------------------------------------------------------------------------

    def _target(self, stream: Stream, consumer: RegisteredConsumer | None) -> str:
        if consumer is None:
            return f"stream {stream.name}"
        return f"consumer {consumer.arn(stream.arn)}"

    async def _add(
        self, stream: Stream, consumer: RegisteredConsumer | None, tags: dict[str, str]
    ) -> None:
        owner = consumer if consumer is not None else stream
        check_tags(tags, owner.tags, self._target(stream, consumer), self._account)
        await self._access.commit(stream, lambda: owner.tags.update(tags))

    async def _remove(
        self, stream: Stream, consumer: RegisteredConsumer | None, keys: list[str]
    ) -> None:
        owner = consumer if consumer is not None else stream
        check_tag_keys(keys, self._target(stream, consumer), self._account)

        def change() -> None:
            for key in keys:
                owner.tags.pop(key, None)

        await self._access.commit(stream, change)
