"""Compensation DeleteTransaction: remove the pending record this execution wrote, if any."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import use_cases
from functions.observability import logger, tracer
from functions.repositories import transactions
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deleted = use_cases.delete_transaction(
        transactions.repository(get_settings()),
        event["userId"],
        event["idempotencyKey"],
        owner=event["executionId"],
    )
    return {"deleted": deleted}
