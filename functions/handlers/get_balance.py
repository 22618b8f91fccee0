"""GET /balance?userId=...: API Gateway proxy integration returning the committed balance and
what is available of it."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain import queries
from functions.domain.requests import parse_user_id
from functions.http_api import resolver
from functions.observability import logger
from functions.repositories import aggregates, dynamodb
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()

app = resolver()


@app.get("/balance")
def get_balance() -> dict:
    settings = get_settings()
    user_id = parse_user_id(app.current_event.get_query_string_value("userId"))
    balance = queries.get_balance(
        aggregates.repository(settings),
        user_id,
        settings.default_balance,
        settings.currency,
        SystemClock().now(),
    )
    return balance.to_dict()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
