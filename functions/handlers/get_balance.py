"""GET /balance?userId=...: API Gateway proxy integration returning the committed balance."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain import use_cases
from functions.domain.errors import ValidationError
from functions.domain.requests import parse_user_id
from functions.http_errors import INTERNAL_ERROR, error_body, http_error_for
from functions.observability import logger, tracer
from functions.repositories import aggregates
from functions.settings import get_settings

app = APIGatewayRestResolver()


@app.get("/balance")
@tracer.capture_method(capture_response=False)
def get_balance() -> dict:
    settings = get_settings()
    user_id = parse_user_id(app.current_event.get_query_string_value("userId"))
    balance = use_cases.get_balance(
        aggregates.repository(settings), user_id, settings.default_balance, settings.currency
    )
    return balance.to_dict()


@app.exception_handler(ValidationError)
def handle_validation_error(error: ValidationError) -> Response:
    status = http_error_for(type(error).__name__).status
    return Response(status, content_types.APPLICATION_JSON, error_body(error.code, str(error)))


@app.exception_handler(Exception)
def handle_unexpected_error(error: Exception) -> Response:
    logger.exception("unexpected error")
    body = error_body(INTERNAL_ERROR.code, INTERNAL_ERROR.message)
    return Response(INTERNAL_ERROR.status, content_types.APPLICATION_JSON, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
