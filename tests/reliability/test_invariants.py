"""The checker of tests/invariants.py, which every tier's figures rest on: it reports each broken
invariant, and each allow_* flag waives only its own."""

from functions.settings import get_settings
from tests.invariants import violations


def put(client, table: str, **attributes: str) -> None:
    """One item; a value that parses as a number is stored as N, the rest as S."""
    item = {
        name: {"N": value} if value.lstrip("-").isdigit() else {"S": value}
        for name, value in attributes.items()
    }
    client.put_item(TableName=table, Item=item)


def test_each_broken_invariant_is_reported_and_each_allowance_waives_only_its_own(local_aws):
    settings, client = get_settings(), local_aws.dynamodb
    transactions, aggregates = settings.transactions_table_name, settings.aggregates_table_name
    for key in ("k1", "k2"):  # the same transactionId committed under two keys
        put(client, transactions, userId="u", idempotencyKey=key, status="COMMITTED",
            transactionId="t1", type="credit", amount="10")  # fmt: skip
    put(client, transactions, userId="u", idempotencyKey="k3", status="PENDING",
        transactionId="t2", type="debit", amount="5")  # fmt: skip
    put(client, aggregates, userId="u", balance="-5", lockOwner="dead", leaseUntil="0")
    always = [
        "transactionId t1 committed twice",
        "user 'u': balance -5 but transactions add up to 120.00",
        "user 'u': negative balance -5",
    ]
    pending, lock = "pending record left for user 'u' key 'k3'", "user 'u': lock still held by dead"

    assert sorted(violations(client)) == sorted([*always, pending, lock])
    assert sorted(violations(client, allow_pending=True)) == sorted([*always, lock])
    assert sorted(violations(client, allow_held_locks=True)) == sorted([*always, pending])
    both = violations(client, allow_pending=True, allow_held_locks=True)
    assert sorted(both) == sorted(always)
