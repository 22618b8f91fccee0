"""The contract's rows of GET /transactions, over HTTP against the local server."""

import pytest
from msgspec.structs import replace

from tests.builders import ledger_entry, put_ledger_entry
from tests.contract.test_contract import assert_error

ENTRY_FIELDS = {"transactionId", "sequence", "type", "amount", "balanceAfter", "currency",
                "createdAt", "idempotencyKey"}  # fmt: skip


def write_entries(aws, user, count):
    entries = [ledger_entry(user, n) for n in range(1, count + 1)]
    for entry in entries:
        put_ledger_entry(entry, aws.dynamodb)
    return entries


def test_a_user_who_never_transacted_has_an_empty_history(api, user):
    response = api.history(user)

    assert response.status_code == 200
    assert response.json() == {"userId": user, "transactions": [], "nextCursor": None}


def test_entries_are_listed_newest_first_as_the_contract_spells_them(api, aws, user):
    entries = write_entries(aws, user, 3)

    body = api.history(user).json()

    assert body["nextCursor"] is None
    assert [e["sequence"] for e in body["transactions"]] == [3, 2, 1]
    assert all(set(e) == ENTRY_FIELDS for e in body["transactions"])
    assert body["transactions"][-1] == entries[0].to_dict()
    assert body["transactions"][0]["balanceAfter"] == "130.00"


def test_the_default_page_is_20_and_the_cursors_list_every_entry_once(api, aws, user):
    write_entries(aws, user, 45)

    pages, cursor = [], None
    while True:
        body = api.history(user, **({"cursor": cursor} if cursor else {})).json()
        pages.append([e["sequence"] for e in body["transactions"]])
        cursor = body["nextCursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [20, 20, 5]
    assert [s for page in pages for s in page] == list(range(45, 0, -1))


def test_a_reversal_names_the_entry_it_reverses(api, aws, user):
    commit = ledger_entry(user, 1)
    reversal = replace(
        ledger_entry(user, 2, type_="debit", balance_after="100.00"), reverses=commit.entry_id
    )
    for entry in (commit, reversal):
        put_ledger_entry(entry, aws.dynamodb)

    [newest, _] = api.history(user).json()["transactions"]

    assert (newest["type"], newest["reverses"]) == ("debit", commit.entry_id)


@pytest.mark.parametrize(
    "user_id", [None, "", "u" * 129, "a\x01b"], ids=["missing", "empty", "too-long", "control"]
)
def test_an_invalid_user_id_is_a_400(api, user_id):
    assert_error(api.history(user_id), 400, "VALIDATION_ERROR", "userId")


@pytest.mark.parametrize("limit", ["0", "101", "abc", "", "2.5", "-3"])
def test_a_limit_outside_1_to_100_is_a_400_naming_it(api, user, limit):
    assert_error(api.history(user, limit=limit), 400, "VALIDATION_ERROR", "limit")


def test_limits_1_and_100_are_accepted(api, aws, user):
    write_entries(aws, user, 2)

    assert len(api.history(user, limit="1").json()["transactions"]) == 1
    assert len(api.history(user, limit="100").json()["transactions"]) == 2


def cursor_of(api, aws, user):
    write_entries(aws, user, 3)
    return api.history(user, limit="1").json()["nextCursor"]


def test_a_malformed_cursor_is_a_400_naming_it(api, user):
    for cursor in ("garbage", "%00", "", "a" * 500):
        assert_error(api.history(user, cursor=cursor), 400, "VALIDATION_ERROR", "cursor")


def test_an_altered_cursor_is_a_400(api, aws, user):
    cursor = cursor_of(api, aws, user)
    altered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]

    assert api.history(user, cursor=cursor).status_code == 200
    assert_error(api.history(user, cursor=altered), 400, "VALIDATION_ERROR", "cursor")


def test_another_users_cursor_is_a_400(api, aws, user):
    cursor = cursor_of(api, aws, user)

    assert_error(api.history(f"{user}-other", cursor=cursor), 400, "VALIDATION_ERROR", "cursor")


def test_an_applied_post_is_listed_at_once_with_its_201_body(api, user):
    credit = api.transact({"userId": user, "ammount": "10", "type": "credit"}, key="k1").json()
    debit = api.transact({"userId": user, "ammount": "2.5", "type": "debit"}, key="k2").json()

    [newest, oldest] = api.history(user).json()["transactions"]

    for entry, posted, key in ((oldest, credit, "k1"), (newest, debit, "k2")):
        assert entry["transactionId"] == posted["transactionId"]
        assert (entry["amount"], entry["balanceAfter"]) == (posted["amount"], posted["balance"])
        assert (entry["createdAt"], entry["type"]) == (posted["createdAt"], posted["type"])
        assert entry["idempotencyKey"] == key
    assert [oldest["sequence"], newest["sequence"]] == [1, 2]


def test_a_replayed_post_adds_no_entry(api, user):
    body = {"userId": user, "ammount": "10", "type": "credit"}
    api.transact(body, key="same")
    api.transact(body, key="same")

    assert len(api.history(user).json()["transactions"]) == 1
