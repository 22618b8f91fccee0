"""Stream consumer ForwardEvents: publish the outbox's new events to the wallet's event bus."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.domain.publishing import forward_events
from functions.observability import logger
from functions.repositories import event_bus, outbox
from functions.settings import get_settings

# Built at import, in Lambda's INIT; the factory keeps it for the sandbox's life.
event_bus.client()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    records = outbox.stream_events(event)
    first_failed = forward_events(
        event_bus.repository(settings),
        [outbox_event for _, outbox_event in records],
        attempts=settings.put_events_attempts,
    )
    return outbox.batch_response(records, first_failed)
