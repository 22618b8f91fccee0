"""GET /transactions?userId=...&limit=...&cursor=...: the user's ledger, newest first."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import queries
from functions.domain.requests import parse_cursor, parse_limit, parse_user_id
from functions.http_api import resolver
from functions.observability import logger
from functions.repositories import dynamodb, ledger, secrets
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()
secrets.client()

app = resolver()


@app.get("/transactions")
def get_transactions() -> dict:
    settings = get_settings()
    query = app.current_event.get_query_string_value
    user_id = parse_user_id(query("userId"))
    page = queries.get_history(
        ledger.repository(settings),
        secrets.cursor_key(settings.cursor_key_secret_id),
        user_id,
        limit=parse_limit(query("limit")),
        cursor=parse_cursor(query("cursor")),
    )
    return page.to_dict()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
