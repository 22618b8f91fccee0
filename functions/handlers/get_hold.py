"""GET /holds/{holdId}?userId=...: API Gateway proxy integration returning the hold with its
status now (a pending hold past its expiresAt reads as expired)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.clock import SystemClock
from functions.domain import holds as hold_use_cases
from functions.domain.requests import parse_hold_id, parse_user_id
from functions.http_api import resolver
from functions.observability import logger
from functions.repositories import holds
from functions.settings import get_settings

app = resolver()


# Any id, read from the path parameters: Powertools' <name> matches a few character classes only,
# and an id outside them (a control character) must get its 400, not a route's 404 or a 500.
@app.get("/holds/[^/]+")
def get_hold() -> dict:
    user_id = parse_user_id(app.current_event.get_query_string_value("userId"))
    hold_id = parse_hold_id((app.current_event.path_parameters or {}).get("holdId"))
    return hold_use_cases.get_hold(
        holds.repository(get_settings()), user_id, hold_id, SystemClock().now()
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
