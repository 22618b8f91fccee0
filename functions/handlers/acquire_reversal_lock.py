"""Task AcquireReversalLock: parse the reversal request, then take its user's lock (as
AcquireLock takes it); return the normalized request with the balance and last sequence seen."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.requests import parse_reversal_request
from functions.handlers.acquire_lock import take_lock
from functions.observability import logger


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # Parsed first: an invalid request takes no lock and writes nothing.
    reversal = parse_reversal_request(event["body"], event["transactionId"])
    return {"request": reversal.to_dict(), "lock": take_lock(reversal.user_id, event, context)}
