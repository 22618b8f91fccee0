"""ForwardEvents' use case: the outbox's new events onto the bus, in order, none lost."""

from collections.abc import Sequence

from functions.domain.events import OutboxEvent
from functions.domain.ports import EventBus


def forward_events(bus: EventBus, events: Sequence[OutboxEvent], attempts: int) -> str | None:
    """Publish `events` in order, retrying exactly the ones the bus refused (PutEvents accepts
    some entries of a request and fails others); returns the id of the first event still not
    published after `attempts` tries, or None when all were.

    The caller reports that event and everything after it as not done (the stream redelivers
    them), so nothing is lost; consumers dedupe what was published twice on the event id.
    """
    remaining = list(events)
    for _ in range(attempts):
        if not remaining:
            return None
        remaining = bus.put_events(remaining)
    return remaining[0].event_id if remaining else None
