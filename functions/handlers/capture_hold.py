"""Task CaptureHold: debit the captured amount and end the hold, in one atomic write, under the
lock; or answer a repeated capture as the first."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.holds import capture_hold
from functions.domain.models import HoldCommand, account_from_dict
from functions.observability import logger
from functions.repositories import dynamodb, holds, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    outcome = capture_hold(
        unit_of_work.repository(settings),
        holds.repository(settings),
        HoldCommand.from_dict(event["request"]),
        account_from_dict(event["lock"]),
        owner=event["executionId"],
        currency=settings.currency,
        clock=SystemClock(),
    )
    return outcome.to_dict()
