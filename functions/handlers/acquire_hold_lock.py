"""Task AcquireHoldLock: parse the change to a hold (place, capture or void), then take the
user's lock (as AcquireLock takes it); return the normalized command with the balance, last
sequence and pending holds the lock saw."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.requests import parse_hold_command
from functions.handlers.acquire_lock import take_lock
from functions.observability import logger


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Parsed first: an invalid request takes no lock and writes nothing.
    command = parse_hold_command(
        event["operation"], event["body"], event["idempotencyKey"], event["holdId"]
    )
    return {"request": command.to_dict(), "lock": take_lock(command.user_id, event, context)}
