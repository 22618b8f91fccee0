"""ForwardEvents' use case with a fake bus that refuses some events."""

from functions.domain.events import OutboxEvent
from functions.domain.publishing import forward_events
from tests.builders import FakeBus


def events(*ids: str) -> list[OutboxEvent]:
    return [OutboxEvent(event_id, "TransactionCommitted", "{}") for event_id in ids]


def test_forward_events_retries_exactly_the_refused_events():
    bus = FakeBus(refusals={"b": 1, "c": 2})

    assert forward_events(bus, events("a", "b", "c", "d"), attempts=3) is None
    assert bus.calls == [["a", "b", "c", "d"], ["b", "c"], ["c"]]


def test_forward_events_names_the_first_event_still_refused():
    bus = FakeBus(refusals={"b": 5, "c": 5})

    assert forward_events(bus, events("a", "b", "c", "d"), attempts=2) == "b"
    assert bus.calls == [["a", "b", "c", "d"], ["b", "c"]]
