"""ListStreams paged through hundreds of streams in two accounts: exact name order, nothing
missed or repeated, each account seeing only its own. Streams created and deleted between pages
show up or not as AWS's name-based paging has them: a page starts strictly after the last name of
the page before, whether that stream still exists or not; a DELETING stream is listed (with its
status) until it is gone; a gone one counts toward neither Limit nor HasMoreStreams.

Each account here is a fresh tenant (an access key of 12 digits is its account), so the servers'
other streams never show up in these listings.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import make_client
from tests.helpers import wait_deleted
from tests.support import ServerProcess, server_of_its_own

REGION = "eu-central-1"
LIMIT = 7


@pytest.fixture(scope="module")
def paging_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """DELETING lasts 1 ms: a deleted stream is gone at once, but stays in the server's registry
    until the background sweep (every 60 s) purges it, which listings must skip."""
    data = tmp_path_factory.mktemp("list-paging") / "data"
    yield from server_of_its_own(data, "--delete-stream-ms", "1")


@pytest.fixture(scope="module")
def deleting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """DELETING lasts 10 minutes: longer than the test."""
    data = tmp_path_factory.mktemp("list-deleting") / "data"
    yield from server_of_its_own(data, "--delete-stream-ms", "600000")


def client_of(server: ServerProcess, account: str) -> Any:
    return make_client(server.endpoint, region=REGION, access_key=account)


def create_all(server: ServerProcess, account: str, names: list[str]) -> None:
    """Create ``names`` in ``account`` in about the order given, from four clients at once."""
    clients = [client_of(server, account) for _ in range(4)]

    def create(i: int) -> None:
        for name in names[i::4]:
            clients[i].create_stream(StreamName=name, ShardCount=1)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, range(4)))


def page(kinesis: Any, **start: str) -> dict[str, Any]:
    """One page of LIMIT, checked for consistency: summaries match names; a NextToken exactly
    when HasMoreStreams, and then a full page."""
    body: dict[str, Any] = kinesis.list_streams(Limit=LIMIT, **start)
    assert [s["StreamName"] for s in body["StreamSummaries"]] == body["StreamNames"]
    assert ("NextToken" in body) == body["HasMoreStreams"]
    assert len(body["StreamNames"]) <= LIMIT
    if body["HasMoreStreams"]:
        assert len(body["StreamNames"]) == LIMIT
    return body


def pages_from(kinesis: Any, first: dict[str, Any]) -> list[dict[str, Any]]:
    """``first`` and the pages after it, resumed by NextToken and ExclusiveStartStreamName in
    turn."""
    pages = [first]
    while pages[-1]["HasMoreStreams"]:
        last = pages[-1]
        if len(pages) % 2:
            pages.append(page(kinesis, NextToken=last["NextToken"]))
        else:
            pages.append(page(kinesis, ExclusiveStartStreamName=last["StreamNames"][-1]))
    return pages


def names_of(pages: list[dict[str, Any]]) -> list[str]:
    return [name for p in pages for name in p["StreamNames"]]


def test_pages_of_two_accounts_are_exact_and_their_own(paging_server: ServerProcess) -> None:
    rng = random.Random(17)
    ours = [f"s{rng.getrandbits(40):010x}-{i}" for i in range(250)]
    theirs = ours[:30] + [f"t{rng.getrandbits(40):010x}" for _ in range(30)] + ["a", "Z", "0", "_"]
    for names in (ours, theirs):
        rng.shuffle(names)  # created in no particular order
    create_all(paging_server, "111111111111", ours)
    create_all(paging_server, "222222222222", theirs)  # 30 names are also the first account's

    for account, names in (("111111111111", ours), ("222222222222", theirs)):
        kinesis = client_of(paging_server, account)
        pages = pages_from(kinesis, page(kinesis))
        assert names_of(pages) == sorted(names)  # code-point order: "0" < "Z" < "_" < "a"
        assert len(pages) == -(-len(names) // LIMIT)
        summaries = [s for p in pages for s in p["StreamSummaries"]]
        assert [s["StreamARN"] for s in summaries] == [
            f"arn:aws:kinesis:{REGION}:{account}:stream/{n}" for n in sorted(names)
        ]
        assert {s["StreamStatus"] for s in summaries} == {"ACTIVE"}
        last = kinesis.list_streams(ExclusiveStartStreamName=sorted(names)[-1])
        assert (last["StreamNames"], last["HasMoreStreams"]) == ([], False)


def test_streams_created_and_deleted_between_pages(paging_server: ServerProcess) -> None:
    account = "333333333333"
    kinesis = client_of(paging_server, account)
    names = [f"m-{i:03d}" for i in range(40)]
    create_all(paging_server, account, random.Random(4).sample(names, len(names)))

    first = page(kinesis)
    second = page(kinesis, NextToken=first["NextToken"])
    assert names_of([first, second]) == names[:14]
    kinesis.create_stream(StreamName="m-000a", ShardCount=1)  # behind the reader: not seen
    kinesis.create_stream(StreamName="m-020a", ShardCount=1)  # ahead: seen in its place
    for gone in ("m-003", "m-013", "m-022"):  # listed already; the token's own; ahead
        kinesis.delete_stream(StreamName=gone)
        wait_deleted(kinesis, gone)
    rest = pages_from(kinesis, page(kinesis, NextToken=second["NextToken"]))
    assert names_of(rest) == [*names[14:21], "m-020a", names[21], *names[23:]]

    # Gone streams at the end count toward neither Limit nor HasMoreStreams.
    for gone in ("m-038", "m-039"):
        kinesis.delete_stream(StreamName=gone)
        wait_deleted(kinesis, gone)
    tail = kinesis.list_streams(ExclusiveStartStreamName="m-036", Limit=1)
    assert (tail["StreamNames"], tail["HasMoreStreams"]) == (["m-037"], False)
    assert "NextToken" not in tail
    everything = set(names) - {"m-003", "m-013", "m-022", "m-038", "m-039"}
    assert names_of(pages_from(kinesis, page(kinesis))) == sorted(everything | {"m-000a", "m-020a"})


def test_deleting_streams_are_listed_with_their_status(deleting_server: ServerProcess) -> None:
    account = "444444444444"
    kinesis = client_of(deleting_server, account)
    names = [f"d-{i:02d}" for i in range(20)]
    create_all(deleting_server, account, names[::-1])

    first = page(kinesis)
    assert first["StreamNames"] == names[:LIMIT]
    for name in ("d-02", "d-09", "d-19"):  # listed already, ahead, the very last
        kinesis.delete_stream(StreamName=name)
    rest = pages_from(kinesis, page(kinesis, NextToken=first["NextToken"]))
    assert names_of(rest) == names[LIMIT:]
    statuses = {s["StreamName"]: s["StreamStatus"] for p in rest for s in p["StreamSummaries"]}
    assert statuses == {n: "DELETING" if n in ("d-09", "d-19") else "ACTIVE" for n in names[7:]}
