"""Task ValidateRequest: raw API input to a normalized request, before anything is written."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.models import request_to_dict
from functions.domain.requests import parse_transaction_request
from functions.observability import logger, tracer


@logger.inject_lambda_context(correlation_id_path="executionId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse_transaction_request(event["body"], event["idempotencyKey"])
    return request_to_dict(request)
