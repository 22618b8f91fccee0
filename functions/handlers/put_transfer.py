"""Task PutTransfer: record the transfer as pending, or find the committed one to replay."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.models import TransferRequest
from functions.domain.transfers import put_transfer
from functions.observability import logger
from functions.repositories import dynamodb, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = put_transfer(
        unit_of_work.repository(get_settings()),
        TransferRequest.from_dict(event["request"]),
        owner=event["executionId"],
        clock=SystemClock(),
    )
    return {
        "transferId": outcome.transfer_id,
        "createdAt": outcome.created_at,
        "replay": outcome.replay.to_dict() if outcome.replay else None,
    }
