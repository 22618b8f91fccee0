"""What every API Gateway proxy handler shares: its resolver and the mapping of errors to HTTP."""

import json
from functools import partial

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.shared.json_encoder import Encoder

from functions.domain.errors import NotFoundError, ValidationError
from functions.domain.requests import is_valid_text
from functions.http_errors import INTERNAL_ERROR, error_body, http_error_for
from functions.observability import logger


def resolver() -> APIGatewayRestResolver:
    """A resolver answering a ValidationError with its 400, a NotFoundError with its 404, and
    anything else with a bare 500."""
    # Spaced as json.dumps writes it (", " and ": "), like the POST's mapping template and API
    # Gateway's own answers: every body of the API has one form (Powertools' default is compact).
    app = APIGatewayRestResolver(serializer=partial(json.dumps, cls=Encoder))
    app.use(middlewares=[refuse_query_text_that_was_not_utf8])

    @app.exception_handler([ValidationError, NotFoundError])
    def handle_validation_error(error: ValidationError | NotFoundError) -> Response:
        status = http_error_for(type(error).__name__).status
        return Response(status, content_types.APPLICATION_JSON, error_body(error.code, str(error)))

    @app.exception_handler(Exception)
    def handle_unexpected_error(error: Exception) -> Response:
        logger.exception("unexpected error")
        body = error_body(INTERNAL_ERROR.code, INTERNAL_ERROR.message)
        return Response(INTERNAL_ERROR.status, content_types.APPLICATION_JSON, body)

    return app


def refuse_query_text_that_was_not_utf8(
    app: APIGatewayRestResolver, next_middleware: NextMiddleware
) -> Response:
    """A query string parameter holding U+FFFD is a 400, whether the handler reads it or not.

    API Gateway decodes a query string's percent-escapes as UTF-8 and puts U+FFFD where they are
    not (functions.domain.requests.REPLACEMENT_CHARACTER says why that must not reach an id).
    """
    parameters = app.current_event.multi_value_query_string_parameters or {}
    for name, values in parameters.items():
        if not all(is_valid_text(text) for text in (name, *values)):
            shown = name if is_valid_text(name) else "name"
            raise ValidationError(f"query parameter {shown} must be valid UTF-8 text")
    return next_middleware(app)
