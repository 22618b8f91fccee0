"""Task AcquireLock: parse the API input, then take the user's lock; return the normalized
request with the balance and the last sequence the lock saw."""

from datetime import timedelta

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock, epoch_seconds
from functions.domain.lock_wait import WaitPolicy, parse_started_at
from functions.domain.locks import LockRequest, acquire_lock
from functions.domain.models import holds_to_list, request_to_dict
from functions.domain.money import format_money
from functions.domain.requests import parse_transaction_request
from functions.observability import logger
from functions.repositories import dynamodb, locks
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


def take_lock(user_id: str, event: dict, context: LambdaContext) -> dict:
    """Take `user_id`'s lock for the execution of `event`, waiting in line; the lock as the next
    steps read it (balance, last sequence and pending holds). Every saga that locks one user (a
    transaction, a reversal, a hold) takes it here."""
    settings = get_settings()
    request = LockRequest(
        user_id=user_id,
        owner=event["executionId"],
        lease=timedelta(seconds=settings.lock_lease_seconds),
        started_at=parse_started_at(event["startedAt"]),
        remaining_seconds=context.get_remaining_time_in_millis() / 1000,
    )
    policy = WaitPolicy(budget_seconds=settings.lock_wait_seconds)
    lock = acquire_lock(locks.repository(settings), request, policy, SystemClock())
    return {
        "balance": format_money(lock.balance),
        "lastSequence": lock.last_sequence,
        "holds": holds_to_list(lock.holds),
        "leaseUntil": epoch_seconds(lock.lease_until),
    }


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Parsed first: an invalid request takes no lock and writes nothing.
    transaction = parse_transaction_request(event["body"], event["idempotencyKey"])
    return {
        "request": request_to_dict(transaction),
        "lock": take_lock(transaction.user_id, event, context),
    }
