"""Task PutTransaction: record the transaction as pending, or find the committed one to replay."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import use_cases
from functions.domain.models import request_from_dict
from functions.observability import logger, tracer
from functions.repositories import transactions
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = use_cases.put_transaction(
        transactions.repository(get_settings()),
        request_from_dict(event["request"]),
        owner=event["executionId"],
        now=datetime.now(UTC),
    )
    replay = outcome.replay.to_dict() if outcome.replay else None
    return {
        "transactionId": outcome.transaction_id,
        "createdAt": outcome.created_at,
        "replay": replay,
    }
