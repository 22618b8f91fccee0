"""Compensation DeleteTransaction: undo what this execution wrote, pending or committed."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.models import TransactionKey
from functions.domain.transactions import delete_transaction
from functions.observability import logger
from functions.repositories import dynamodb, transactions, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    reverted = delete_transaction(
        transactions.repository(settings),
        unit_of_work.repository(settings),
        TransactionKey(event["userId"], event["idempotencyKey"]),
        owner=event["executionId"],
        clock=SystemClock(),
    )
    return {"reverted": reverted}
