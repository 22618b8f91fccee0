"""GET /transactions' use case and parameters, with a fake ledger."""

import pytest

from functions.domain.errors import ValidationError
from functions.domain.queries import get_history
from functions.domain.requests import parse_cursor, parse_limit
from tests.builders import FakeLedger, ledger_entry

KEY = b"k" * 64


def test_pages_follow_each_other_newest_first_and_the_last_has_no_cursor():
    ledger = FakeLedger([ledger_entry("u", n) for n in range(1, 6)])

    first = get_history(ledger, KEY, "u", 2, None)
    second = get_history(ledger, KEY, "u", 2, first.next_cursor)
    third = get_history(ledger, KEY, "u", 2, second.next_cursor)

    assert [[e.sequence for e in p.entries] for p in (first, second, third)] == [
        [5, 4],
        [3, 2],
        [1],
    ]
    assert third.next_cursor is None
    assert ledger.calls == [("u", 2, None), ("u", 2, 4), ("u", 2, 2)]


def test_an_exactly_full_last_page_has_no_cursor():
    page = get_history(FakeLedger([ledger_entry("u", n) for n in (1, 2)]), KEY, "u", 2, None)
    assert page.next_cursor is None


def test_a_user_without_entries_has_an_empty_page():
    assert get_history(FakeLedger([]), KEY, "u", 20, None).to_dict() == {
        "userId": "u", "transactions": [], "nextCursor": None}  # fmt: skip


def test_another_users_cursor_is_refused_before_the_ledger_is_read():
    ledger = FakeLedger([ledger_entry("a", n) for n in (1, 2, 3)])
    cursor = get_history(ledger, KEY, "a", 1, None).next_cursor

    with pytest.raises(ValidationError, match="cursor"):
        get_history(ledger, KEY, "b", 1, cursor)
    assert len(ledger.calls) == 1


@pytest.mark.parametrize(("value", "expected"), [(None, 20), ("1", 1), ("20", 20), ("100", 100)])
def test_valid_limits(value, expected):
    assert parse_limit(value) == expected


@pytest.mark.parametrize(
    "value",
    ["0", "101", "-1", "", "01", "1.0", "1e2", " 5", "ten", "\u0665", "1000"],
)
def test_invalid_limits_name_the_parameter(value):
    with pytest.raises(ValidationError, match="limit"):
        parse_limit(value)


def test_an_empty_cursor_is_refused_and_none_means_the_first_page():
    assert parse_cursor(None) is None
    with pytest.raises(ValidationError, match="cursor"):
        parse_cursor("")
