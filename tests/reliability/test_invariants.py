"""The checker of tests/invariants.py, which every tier's figures rest on: it reports each broken
invariant, and each allow_* flag waives only its own."""

import time

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
        "user 'u': available -5 below zero",  # invariant 11: no holds, available is the balance
        "ledger commits not undone [] are no committed transaction; committed transactions "
        "['t1'] have no entry",
    ]
    pending, lock = "pending record left for user 'u' key 'k3'", "user 'u': lock still held by dead"

    assert sorted(violations(client)) == sorted([*always, pending, lock])
    assert sorted(violations(client, allow_pending=True)) == sorted([*always, lock])
    assert sorted(violations(client, allow_held_locks=True)) == sorted([*always, pending])
    both = violations(client, allow_pending=True, allow_held_locks=True)
    assert sorted(both) == sorted(always)


def test_an_expired_lock_is_waived_only_when_asked_and_a_live_one_never(local_aws):
    settings, client = get_settings(), local_aws.dynamodb
    put(client, settings.aggregates_table_name, userId="dead", balance="100", lockOwner="x",
        leaseUntil="0")  # fmt: skip
    put(client, settings.aggregates_table_name, userId="live", balance="100", lockOwner="y",
        leaseUntil=str(int(time.time()) + 60))  # fmt: skip

    assert sorted(violations(client)) == [
        "user 'dead': lock still held by x",
        "user 'live': lock still held by y",
    ]
    assert violations(client, allow_expired_locks=True) == ["user 'live': lock still held by y"]


def entry(client, sequence: int, type_: str, amount: str, after: str, **extra: str) -> None:
    put(client, get_settings().ledger_table_name, userId="u", sequence=str(sequence),
        entryId=f"e{sequence}", type=type_, amount=amount, balanceAfter=after, **extra)  # fmt: skip


def test_a_gap_a_broken_chain_and_a_ledger_apart_from_the_balance_are_reported(local_aws):
    settings, client = get_settings(), local_aws.dynamodb
    put(client, settings.transactions_table_name, userId="u", idempotencyKey="k1",
        status="COMMITTED", transactionId="e1", type="credit", amount="10")  # fmt: skip
    put(client, settings.aggregates_table_name, userId="u", balance="110", lastSequence="1")
    entry(client, 1, "credit", "10", "110")
    assert violations(client) == []

    entry(client, 3, "debit", "10", "90", reverses="e1")  # a gap, and 90 != 110 - 10

    assert sorted(violations(client)) == sorted([
        "ledger commits not undone [] are no committed transaction; committed transactions "
        "['e1'] have no entry",
        "user 'u': ledger sequences [1, 3] are not 1..2",
        "user 'u': entry 3 has balanceAfter 90, the entries before it add up to 100.00",
        "user 'u': last entry's balanceAfter 90 is not the balance 110",
        "user 'u': lastSequence 1 but 2 entries",
    ])  # fmt: skip
