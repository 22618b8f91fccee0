"""Task ReverseTransaction: append the reversing entry of the user's transaction, at most once,
under the lock; or find the reversal already committed."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain.models import ReversalRequest, account_from_dict
from functions.domain.reversals import reverse_transaction
from functions.observability import logger, metrics
from functions.repositories import dynamodb, ledger, transactions, unit_of_work
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


@logger.inject_lambda_context(correlation_id_path="executionId")
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    outcome = reverse_transaction(
        transactions.repository(settings),
        ledger.repository(settings),
        unit_of_work.repository(settings),
        ReversalRequest.from_dict(event["request"]),
        account_from_dict(event),
        owner=event["executionId"],
        clock=SystemClock(),
    )
    metric = "ReversalReplayed" if outcome.replayed else "TransactionReversed"
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return {"transaction": outcome.transaction.to_dict(), "replayed": outcome.replayed}
