"""GET /holds/{holdId}?userId=...: API Gateway proxy integration returning the hold with its
status now (a pending hold past its expiresAt reads as expired)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain import holds as hold_use_cases
from functions.domain.requests import parse_hold_id, parse_user_id
from functions.http_api import resolver
from functions.observability import logger
from functions.repositories import dynamodb, holds
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
dynamodb.client()

app = resolver()


# Any id, read from the path parameters: the route is the resource, so an id of any text reaches
# parse_hold_id (a control character gets its 400, not a missing route's 500).
@app.get("/holds/{holdId}")
def get_hold() -> dict:
    user_id = parse_user_id(app.current_event.get_query_string_value("userId"))
    hold_id = parse_hold_id(app.current_event.path_parameters.get("holdId"))
    return hold_use_cases.get_hold(
        holds.repository(get_settings()), user_id, hold_id, SystemClock().now()
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
