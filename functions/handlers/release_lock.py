"""Task ReleaseLock (and the compensation ReleaseLockAfterFailure): free the lock if still ours."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.locks import release_lock
from functions.observability import logger, tracer
from functions.repositories import locks
from functions.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="executionId")
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    released = release_lock(
        locks.repository(get_settings()), event["userId"], owner=event["executionId"]
    )
    return {"released": released}
