"""Stream consumer ProjectSummaries: the ledger's new entries into the summaries projection.

Fed by the ledger table's stream (an event source mapping on AWS, the runtime's poller locally),
in Lambda's DynamoDB stream event shape. It stops at the first record it cannot apply and names
it in a partial batch response, so that record and every one after it are delivered again.
"""

import msgspec
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import queries
from functions.observability import logger
from functions.repositories import dynamodb, ledger, summaries
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()


def _records(event: dict) -> list[queries.StreamRecord]:
    return [
        queries.StreamRecord(
            record["dynamodb"]["SequenceNumber"],
            record["dynamodb"].get("NewImage") if record["eventName"] == "INSERT" else None,
        )
        for record in event["Records"]
    ]


# A batch has no correlation id of its own: none is carried over from an earlier invocation.
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = queries.project_entries(
        summaries.repository(get_settings()), _records(event), ledger.entry_from_item
    )
    logger.info("batch projected", extra=msgspec.structs.asdict(outcome))
    return outcome.batch_response()
