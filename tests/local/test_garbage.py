"""The embedded runtime leaves (almost) no cyclic garbage per transaction
(infra/local/reference_cycles.py, dynamodb/expressions.py, stepfunctions/interpreter.py), and
`make run` freezes what it started with (runtime.freeze_start_up). Counts of objects, no timing."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from infra.local.runtime import LocalAws, freeze_after_full_collections, freeze_start_up
from tests.builders import execution_input

TRANSACTIONS = 5
# Before the patches about 2,200 objects a committed transaction (stream consumers included);
# with them about 40, the parse of one intrinsic function per execution.
AT_MOST_PER_TRANSACTION = 100


@contextmanager
def cyclic_garbage() -> Iterator[list[Any]]:
    """What only the cyclic collector would free of what the block makes (gc paused meanwhile)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[Any] = []
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def committed(local_aws: Any, users: int, prefix: str) -> None:
    for user in range(users):
        result = local_aws.start_sync_execution(
            "TransactionStateMachine", execution_input(user_id=f"{prefix}-{user}")
        )
        assert result["status"] == "SUCCEEDED", result
    local_aws.drain_streams()  # the consumers' work is part of a transaction's


def kinds(garbage: list[Any]) -> Counter[str]:
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in garbage)


def test_a_committed_transaction_leaves_little_cyclic_garbage(local_aws):
    committed(local_aws, 3, "warm")  # first use: caches, lazy imports, the handlers' import
    # Two windows, the smaller judged: what is loaded once, late (a service model a background
    # consumer first needs when a loaded machine delays it, about 26,000 objects), lands in one
    # of them at most, where the garbage of every transaction is in both.
    windows = []
    for window in ("gc-1", "gc-2"):
        with cyclic_garbage() as garbage:
            committed(local_aws, TRANSACTIONS, window)
        windows.append(list(garbage))
    least = min(windows, key=len)

    assert len(least) / TRANSACTIONS <= AT_MOST_PER_TRANSACTION, kinds(least).most_common(10)


SOURCES: dict[str, Callable[[str], bool]] = {
    "update expression parse trees": lambda kind: kind.startswith("moto.dynamodb.parsing."),
    "moto's request objects": lambda kind: kind == "moto.core.request.Request",
    "botocore's response parsers": lambda kind: kind.startswith("botocore.parsers."),
    "jmespath's interpreters": lambda kind: kind == "jmespath.visitor.TreeInterpreter",
    "ast.literal_eval's closures": lambda kind: kind == "builtins.cell",
}


@pytest.mark.parametrize("source", list(SOURCES), ids=list(SOURCES))
def test_no_source_the_runtime_patches_is_left_in_the_garbage(local_aws, source):
    committed(local_aws, 2, "warm")
    with cyclic_garbage() as garbage:
        committed(local_aws, 2, "gc")

    assert [kind for kind in kinds(garbage) if SOURCES[source](kind)] == []


def test_start_up_objects_are_frozen_out_of_later_collections(local_aws):
    started_with = [local_aws]  # a container object that exists before the freeze
    try:
        frozen = freeze_start_up()
        assert frozen > 0
        # What a collection walks (every generation) no longer holds it; a new object it does.
        made_after = [local_aws]
        walked = gc.get_objects()
        assert not any(o is started_with for o in walked)
        assert any(o is made_after for o in walked)
    finally:
        gc.unfreeze()


def test_what_survives_a_full_collection_is_frozen_and_later_garbage_still_collected(local_aws):
    undo = freeze_after_full_collections()
    try:
        survivor = [local_aws]
        gc.collect()
        walked = gc.get_objects()
        assert not any(o is survivor for o in walked)  # frozen with the collection's survivors

        cycle: list[Any] = []
        cycle.append(cycle)  # made after the freeze, garbage at once
        del cycle
        assert gc.collect() >= 1
    finally:
        undo()
        gc.unfreeze()
    assert any(o is survivor for o in gc.get_objects())


def test_the_runtime_leaves_no_cycle_among_what_outlives_a_collection():
    """Frozen objects that later die in a reference cycle would never be freed: after enough
    transactions to forget executions (the retention's cut), nothing frozen is garbage."""
    with LocalAws(executions_kept=2) as aws:
        committed(aws, 3, "warm")
        undo = freeze_after_full_collections()
        gc.collect()  # freezes everything so far: the executions it will forget included
        try:
            committed(aws, 5, "frozen")
            gc.collect()  # what the collector can see is freed; the rest frozen
        finally:
            undo()
        with cyclic_garbage() as garbage:
            gc.unfreeze()  # what only a collection of the frozen objects would free

    assert [k for k in kinds(garbage) if k.startswith("moto.stepfunctions.")] == []
    assert len(garbage) <= 5 * AT_MOST_PER_TRANSACTION, kinds(garbage).most_common(10)
