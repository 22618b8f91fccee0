"""Task UpdateBalance: apply the transaction and commit it, atomically, under the lock."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.models import PendingTransaction, account_from_dict, request_from_dict
from functions.domain.transactions import update_balance
from functions.observability import logger, metrics
from functions.repositories import dynamodb, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    pending = PendingTransaction(
        request_from_dict(event["request"]),
        transaction_id=event["transactionId"],
        owner=event["executionId"],
        created_at=event["createdAt"],
    )
    seen = account_from_dict(event)
    transaction = update_balance(
        unit_of_work.repository(settings), pending, seen, settings.currency, SystemClock()
    )
    metrics.add_metric(name="TransactionCommitted", unit=MetricUnit.Count, value=1)
    return {"transaction": transaction.to_dict(), "replayed": False}
