"""Task UpdateBalance: apply the transaction and commit it, atomically, under the lock."""

import time
from decimal import Decimal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import use_cases
from functions.domain.models import request_from_dict
from functions.observability import logger, metrics, tracer
from functions.repositories import aggregates
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    transaction = use_cases.update_balance(
        aggregates.repository(settings),
        request_from_dict(event["request"]),
        owner=event["executionId"],
        seen_balance=Decimal(event["balance"]),
        seen_sequence=int(event["lastSequence"]),
        transaction_id=event["transactionId"],
        created_at=event["createdAt"],
        currency=settings.currency,
        now=int(time.time()),
    )
    metrics.add_metric(name="TransactionCommitted", unit=MetricUnit.Count, value=1)
    return {"transaction": transaction.to_dict(), "replayed": False}
