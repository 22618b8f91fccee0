"""Compensation DeleteTransfer: delete the pending transfer record this execution wrote."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.transfers import delete_transfer
from functions.observability import logger
from functions.repositories import dynamodb, transactions
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deleted = delete_transfer(
        transactions.repository(get_settings()),
        event["fromUserId"],
        event["idempotencyKey"],
        owner=event["executionId"],
    )
    return {"deleted": deleted}
