"""Task AcquireLocks: parse the transfer request, then take both users' locks in the global
order; return the normalized request with each locked user's balance and last sequence."""

from datetime import timedelta

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock, epoch_seconds
from functions.domain.lock_wait import WaitPolicy, parse_started_at
from functions.domain.locks import LockRequest
from functions.domain.models import holds_to_list
from functions.domain.money import format_money
from functions.domain.requests import parse_transfer_request
from functions.domain.transfers import acquire_transfer_locks
from functions.observability import logger
from functions.repositories import dynamodb, locks
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Parsed first: an invalid request takes no lock and writes nothing.
    transfer = parse_transfer_request(event["body"], event["idempotencyKey"])
    settings = get_settings()
    started_at = parse_started_at(event["startedAt"])

    def lock_request(user_id: str) -> LockRequest:
        # The remaining time is read per lock: the second one waits only for what is left.
        return LockRequest(
            user_id=user_id,
            owner=event["executionId"],
            lease=timedelta(seconds=settings.lock_lease_seconds),
            started_at=started_at,
            remaining_seconds=context.get_remaining_time_in_millis() / 1000,
        )

    taken = acquire_transfer_locks(
        locks.repository(settings),
        transfer,
        lock_request,
        WaitPolicy(budget_seconds=settings.lock_wait_seconds),
        SystemClock(),
    )
    return {
        "request": transfer.to_dict(),
        "lockOrder": [lock.user_id for lock in taken],
        "locks": {
            lock.user_id: {
                "balance": format_money(lock.balance),
                "lastSequence": lock.last_sequence,
                "holds": holds_to_list(lock.holds),
                "leaseUntil": epoch_seconds(lock.lease_until),
            }
            for lock in taken
        },
    }
