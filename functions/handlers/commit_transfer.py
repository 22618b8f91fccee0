"""Task CommitTransfer: move the money and commit the transfer, both sides at once, under both
locks."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.models import PendingTransfer, TransferRequest, account_from_dict
from functions.domain.transfers import commit_transfer
from functions.observability import logger, metrics
from functions.repositories import dynamodb, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    request = TransferRequest.from_dict(event["request"])
    pending = PendingTransfer(
        request,
        transfer_id=event["transferId"],
        owner=event["executionId"],
        created_at=event["createdAt"],
    )
    locks = event["locks"]
    transfer = commit_transfer(
        unit_of_work.repository(settings),
        pending,
        account_from_dict(locks[request.from_user_id]),
        account_from_dict(locks[request.to_user_id]),
        settings.currency,
        SystemClock(),
    )
    metrics.add_metric(name="TransferCommitted", unit=MetricUnit.Count, value=1)
    return {"transfer": transfer.to_dict(), "replayed": False}
