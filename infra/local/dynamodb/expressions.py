"""What the runtime changes in moto's DynamoDB update expressions: parse trees that free themselves.

What moto 5.2.5 does: each UpdateItem, and each Update of a TransactWriteItems, parses its
UpdateExpression into a tree of `ast_nodes.Node`s (twice: once to check the names and values it
uses, once to apply it), copies the tree for the validator and rebuilds parts of it on the way.
Every node keeps its children and each child a pointer to its parent, so every tree is a
reference cycle: after the request, the whole of it (nodes, their dicts, their children lists,
the typed values) is left to the cyclic garbage collector. That was about three quarters of the
runtime's cyclic garbage, some 1,600 objects per committed transaction.

Why that is wrong for us: `make run` runs for hours; objects that only the cyclic collector frees
make it run often, and its full collections pause every thread for a time that grows with the
heap (the bench's growth phase).

What this does instead: the pointer to the parent is weak (`Node.parent` a descriptor over a
weak reference), so a tree is freed by reference counting as soon as the request lets it go.
The tree is only ever walked from its root, which its user holds, so a parent reached through a
child is alive whenever moto reads it. A deep copy (the validator's) copies the parent through
the copy's own memo, as a copy of a strong pointer does: the copy's nodes point to the copy's
parents. The patch is declared in infra/local/patches.py.

Proven by tests/local/dynamodb/test_expressions.py (no cyclic garbage from an update, the copy's
parents, and updates still applied as before) and tests/local/test_garbage.py (per transaction).
"""

from __future__ import annotations

import copy
import weakref
from typing import Any

_PARENT = "_local_parent"  # the weak reference's key in a node's __dict__


class WeakParent:
    """`Node.parent`: kept in the node's __dict__ as a weak reference (None for a root)."""

    def __get__(self, node: Any, owner: type | None = None) -> Any:
        if node is None:
            return self
        reference = node.__dict__.get(_PARENT)
        return None if reference is None else reference()

    def __set__(self, node: Any, parent: Any) -> None:
        node.__dict__[_PARENT] = None if parent is None else weakref.ref(parent)


def deep_copy(node: Any, memo: dict[int, Any]) -> Any:
    """`Node.__deepcopy__`: what copy.deepcopy does for an instance, with the parent copied as a
    strong pointer would be (from the memo: the copy of the tree being copied)."""
    cls: Any = type(node)
    copied = cls.__new__(cls)
    memo[id(node)] = copied
    for name, value in node.__dict__.items():
        if name == _PARENT:
            parent = None if value is None else value()
            copied.__dict__[_PARENT] = (
                None if parent is None else weakref.ref(copy.deepcopy(parent, memo))
            )
        else:
            copied.__dict__[name] = copy.deepcopy(value, memo)
    return copied


def weak_parents() -> Any:
    """Make `ast_nodes.Node.parent` weak; returns the undo (trees built meanwhile keep their
    weak parents, which nothing reads once a runtime has stopped)."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    if "parent" in vars(Node) or "__deepcopy__" in vars(Node):
        raise AttributeError("moto's ast_nodes.Node has a parent or __deepcopy__ of its own")
    Node.parent = WeakParent()
    Node.__deepcopy__ = deep_copy

    def undo() -> None:
        del Node.parent
        del Node.__deepcopy__

    return undo
