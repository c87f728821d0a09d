"""The names renamed by issue 12 still work for one release, each with a DeprecationWarning:
``shardflow.producer.Producer`` (now ``AsyncProducer``) and ``shardflow.consumer.Consumer`` (now
``SyncConsumer``), so both libraries read Async*/Sync*."""

from __future__ import annotations

import importlib
import warnings

import pytest

import shardflow.consumer
import shardflow.producer


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("shardflow.producer", "Producer", "AsyncProducer"),
        ("shardflow.consumer", "Consumer", "SyncConsumer"),
    ],
)
def test_old_name_warns_and_is_the_new_class(module: str, old: str, new: str) -> None:
    mod = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=f"{module}.{old} is deprecated; use {new}"):
        alias = getattr(mod, old)
    assert alias is getattr(mod, new)
    with pytest.warns(DeprecationWarning):
        exec(f"from {module} import {old}", {})  # the import form warns too
    assert old not in mod.__all__ and new in mod.__all__


def test_the_new_names_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert shardflow.producer.AsyncProducer.__name__ == "AsyncProducer"
        assert shardflow.producer.SyncProducer.__name__ == "SyncProducer"
        assert shardflow.consumer.AsyncConsumer.__name__ == "AsyncConsumer"
        assert shardflow.consumer.SyncConsumer.__name__ == "SyncConsumer"


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = shardflow.producer.NoSuchThing  # type: ignore[attr-defined]
