"""Task AcquireLock: parse the API input, then take the user's lock; return the normalized
request with the balance and the last sequence the lock saw."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain import use_cases
from functions.domain.lock_wait import WaitPolicy, parse_started_at
from functions.domain.models import request_to_dict
from functions.domain.money import format_money
from functions.domain.requests import parse_transaction_request
from functions.observability import logger, tracer
from functions.repositories import aggregates
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Parsed first: an invalid request takes no lock and writes nothing.
    request = parse_transaction_request(event["body"], event["idempotencyKey"])
    settings = get_settings()
    lock = use_cases.acquire_lock(
        aggregates.repository(settings),
        user_id=request.user_id,
        owner=event["executionId"],
        lease_seconds=settings.lock_lease_seconds,
        default_balance=settings.default_balance,
        started_at=parse_started_at(event["startedAt"]),
        remaining_seconds=context.get_remaining_time_in_millis() / 1000,
        policy=WaitPolicy(budget_seconds=settings.lock_wait_seconds),
        clock=SystemClock(),
    )
    return {
        "request": request_to_dict(request),
        "lock": {
            "balance": format_money(lock.balance),
            "lastSequence": lock.last_sequence,
            "leaseUntil": lock.lease_until,
        },
    }
