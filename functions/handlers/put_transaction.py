"""Task PutTransaction: record the transaction as pending, or find the committed one to replay."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.models import request_from_dict
from functions.domain.transactions import put_transaction
from functions.observability import logger
from functions.repositories import dynamodb, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = put_transaction(
        unit_of_work.repository(get_settings()),
        request_from_dict(event["request"]),
        owner=event["executionId"],
        clock=SystemClock(),
    )
    replay = outcome.replay.to_dict() if outcome.replay else None
    return {
        "transactionId": outcome.transaction_id,
        "createdAt": outcome.created_at,
        "replay": replay,
    }
