"""GET /summaries?userId=...&period=hour|day&from=...&to=...: totals per period, from the
projection the ProjectSummaries consumer keeps."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain import queries
from functions.domain.requests import parse_user_id
from functions.domain.summaries import parse_summary_query
from functions.http_api import resolver
from functions.observability import logger
from functions.repositories import dynamodb, summaries
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()

app = resolver()


@app.get("/summaries")
def get_summaries() -> dict:
    query = app.current_event.get_query_string_value
    summary_query = parse_summary_query(
        parse_user_id(query("userId")),
        query("period"),
        query("from"),
        query("to"),
        now=SystemClock().now(),
    )
    return queries.get_summaries(summaries.repository(get_settings()), summary_query).to_dict()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
