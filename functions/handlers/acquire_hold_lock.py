"""Task AcquireHoldLock: parse the change to a hold (place, capture or void), then take the
user's lock; return the normalized command with the balance, last sequence and pending holds the
lock saw."""

from datetime import timedelta

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock, epoch_seconds
from functions.domain.lock_wait import WaitPolicy, parse_started_at
from functions.domain.locks import LockRequest, acquire_lock
from functions.domain.models import holds_to_list
from functions.domain.money import format_money
from functions.domain.requests import parse_hold_command
from functions.observability import logger
from functions.repositories import locks
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Parsed first: an invalid request takes no lock and writes nothing.
    command = parse_hold_command(
        event["operation"], event["body"], event["idempotencyKey"], event["holdId"]
    )
    settings = get_settings()
    request = LockRequest(
        user_id=command.user_id,
        owner=event["executionId"],
        lease=timedelta(seconds=settings.lock_lease_seconds),
        started_at=parse_started_at(event["startedAt"]),
        remaining_seconds=context.get_remaining_time_in_millis() / 1000,
    )
    policy = WaitPolicy(budget_seconds=settings.lock_wait_seconds)
    lock = acquire_lock(locks.repository(settings), request, policy, SystemClock())
    return {
        "request": command.to_dict(),
        "lock": {
            "balance": format_money(lock.balance),
            "lastSequence": lock.last_sequence,
            "holds": holds_to_list(lock.holds),
            "leaseUntil": epoch_seconds(lock.lease_until),
        },
    }
