"""Compensation DeleteTransaction: undo what this execution wrote, pending or committed."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import use_cases
from functions.observability import logger, tracer
from functions.repositories import aggregates, transactions
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    reverted = use_cases.delete_transaction(
        transactions.repository(settings),
        aggregates.repository(settings),
        event["userId"],
        event["idempotencyKey"],
        owner=event["executionId"],
        now=datetime.now(UTC),
    )
    return {"reverted": reverted}
