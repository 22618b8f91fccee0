"""Task PlaceHold: reserve the amount under the lock, in one atomic write, or replay the hold
the key already placed."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.holds import place_hold
from functions.domain.models import HoldCommand, account_from_dict
from functions.observability import logger
from functions.repositories import dynamodb, transactions, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    outcome = place_hold(
        unit_of_work.repository(settings),
        transactions.repository(settings),
        HoldCommand.from_dict(event["request"]),
        account_from_dict(event["lock"]),
        owner=event["executionId"],
        currency=settings.currency,
        clock=SystemClock(),
    )
    return outcome.to_dict()
