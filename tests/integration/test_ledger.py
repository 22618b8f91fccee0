from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from functions.domain.models import LedgerEntry, TransactionType
from functions.repositories import ledger


def _entry(sequence: int, reverses: str | None = None) -> LedgerEntry:
    return LedgerEntry(
        user_id="1",
        sequence=sequence,
        entry_id=f"entry-{sequence}",
        type=TransactionType.DEBIT if reverses else TransactionType.CREDIT,
        amount=Decimal("10.00"),
        balance_after=Decimal("110.00"),
        currency="USD",
        created_at="2026-12-01T08:46:55.806Z",
        idempotency_key="k",
        reverses=reverses,
    )


@pytest.mark.parametrize("reverses", [None, "entry-1"], ids=["commit", "reversal"])
def test_an_entry_round_trips_through_its_item(client, settings, reverses):
    entry = _entry(2, reverses)

    client.transact_write_items(TransactItems=[ledger.put_entry(settings.ledger_table_name, entry)])
    item = client.get_item(
        TableName=settings.ledger_table_name,
        Key={"userId": {"S": "1"}, "sequence": {"N": "2"}},
        ConsistentRead=True,
    )["Item"]

    assert ledger.entry_from_item(item) == entry
    assert ("reverses" in entry.to_dict()) is (reverses is not None)


def test_a_taken_sequence_cancels_the_write(client, settings):
    client.transact_write_items(
        TransactItems=[ledger.put_entry(settings.ledger_table_name, _entry(1))]
    )

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[ledger.put_entry(settings.ledger_table_name, _entry(1, "x"))]
        )

    assert raised.value.response["CancellationReasons"][0]["Code"] == "ConditionalCheckFailed"
