"""Several requests reversing one transaction at once: exactly one reversing entry; every other
request answers that reversal as a replay, or USER_BUSY while the first held the lock."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

import pytest

from tests.builders import execution_input, output_of, reversal_input
from tests.invariants import balance_of, scan, violations

RACERS = 8


@pytest.mark.parametrize("type_", ["credit", "debit"])
def test_racing_reversals_of_one_transaction_append_one_entry(local_aws, forced_switching, type_):
    committed = local_aws.start_sync_execution(
        "TransactionStateMachine", execution_input("racer", "10", type_)
    )
    transaction_id = output_of(committed)["transaction"]["transactionId"]
    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(
            pool.map(
                partial(local_aws.start_sync_execution, "ReversalStateMachine"),
                [reversal_input("racer", transaction_id)] * RACERS,
            )
        )

    outcomes = [r["status"] if r["status"] == "SUCCEEDED" else r["error"] for r in responses]
    assert set(outcomes) <= {"SUCCEEDED", "UserBusyError"}, outcomes
    answers = [output_of(r) for r in responses if r["status"] == "SUCCEEDED"]
    # Exactly one request reversed it; every other success is the very same reversal, replayed.
    assert [a["replayed"] for a in answers].count(False) == 1
    assert len({str(a["transaction"]) for a in answers}) == 1
    ledger = [i for i in scan(local_aws.dynamodb, "LedgerTable") if i["userId"]["S"] == "racer"]
    assert len([i for i in ledger if "reverses" in i]) == 1
    assert balance_of(local_aws.dynamodb, "racer") == Decimal("100.00")
    assert violations(local_aws.dynamodb) == []
