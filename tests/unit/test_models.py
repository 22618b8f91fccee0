"""The value objects as msgspec Structs (docs/decisions.md): frozen, equal by type and fields,
copied with a change by `msgspec.structs.replace`, and no dataclass left in the bundle."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from msgspec.structs import replace

import functions
from functions.domain.models import (
    ReversalRequest,
    TransactionKey,
    TransactionRequest,
    TransactionType,
)
from functions.settings import Settings

# Counters a use case adds to as it goes, and returns: the only Structs that are not frozen.
MUTABLE_STRUCTS = {"ProjectionOutcome", "RebuildReport"}


def a_request(amount: str = "10.00") -> TransactionRequest:
    return TransactionRequest("u1", "k1", TransactionType.CREDIT, Decimal(amount))


def test_a_value_object_cannot_be_changed():
    request = a_request()

    with pytest.raises(AttributeError):
        request.amount = Decimal("99.00")  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del request.amount  # type: ignore[misc]
    assert request.amount == Decimal("10.00")


def test_the_settings_a_process_keeps_cannot_be_changed():
    # get_settings() caches one Settings per process: a change would outlive the invocation.
    settings = Settings.from_env({})

    with pytest.raises(AttributeError):
        settings.currency = "EUR"  # type: ignore[misc]
    assert settings.currency == "USD"


def test_value_objects_are_equal_by_type_and_every_field():
    key = TransactionKey("u1", "k1")

    assert key == TransactionKey("u1", "k1")
    assert hash(key) == hash(TransactionKey("u1", "k1"))
    assert key != TransactionKey("u1", "k2")
    assert key != TransactionKey("u2", "k1")
    assert key != ReversalRequest("u1", "k1")  # the same values in another type
    assert a_request("10.00") == a_request("10.0")  # amounts compare as numbers
    assert a_request("10.00") != a_request("10.01")


def test_replace_copies_with_the_change_and_refuses_a_field_the_type_has_not():
    request = a_request()

    changed = replace(request, amount=Decimal("5.00"))

    assert (changed.amount, request.amount) == (Decimal("5.00"), Decimal("10.00"))
    assert changed == a_request("5.00")
    with pytest.raises(TypeError, match="no field 'amonut'"):
        replace(request, amonut=Decimal("5.00"))


def bundle_modules() -> list[tuple[str, ast.Module]]:
    root = Path(functions.__file__).parent
    return [
        (str(path.relative_to(root.parent)), ast.parse(path.read_text(), str(path)))
        for path in sorted(root.rglob("*.py"))
    ]


def test_the_bundle_declares_no_dataclass():
    # A dataclass compiles its methods at every import: a cold start pays for each one.
    importing = [
        name
        for name, tree in bundle_modules()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Import) and any(a.name == "dataclasses" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.module == "dataclasses")
    ]

    assert importing == []


def test_every_struct_of_the_bundle_is_frozen_but_the_counters():
    frozen: set[str] = set()
    mutable: set[str] = set()
    for _, tree in bundle_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(base) == "msgspec.Struct" for base in node.bases
            ):
                is_frozen = any(
                    k.arg == "frozen" and ast.literal_eval(k.value) is True for k in node.keywords
                )
                (frozen if is_frozen else mutable).add(node.name)

    assert mutable == MUTABLE_STRUCTS
    assert {"TransactionRequest", "Settings", "HttpError", "Tables", "Summary"} <= frozen
