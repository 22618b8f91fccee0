"""infra/local/awslambda/functions.py: in-process API handlers on Powertools' resolver resolve one
event at a time, as a sandbox does.

Powertools keeps the event being resolved in class attributes every resolver shares; two resolves
at once in one process read each other's query. These tests make the two overlap: the first
route waits until the second is inside its own route (which the runtime's lock prevents). The
wallet's own GET handlers use functions/http_api.py's resolver, which keeps the event per thread
(tests/unit/test_http_api.py); the patch is for a handler on Powertools' resolver."""

import contextlib
import threading
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from infra.local.awslambda import functions as lambdas
from infra.local.patches import RUNTIME_PATCHES
from tests.builders import api_event

OVERLAP_SECONDS = 0.5  # how long the first route waits for the second, which the lock keeps out
WAIT_SECONDS = 30  # a bound on waits that end at once when the code is right
PATCH = "aws_lambda_powertools.event_handler.api_gateway:ApiGatewayResolver.resolve"


@pytest.fixture(autouse=True)
def one_resolve_at_a_time() -> Iterator[None]:
    """The runtime's patch of the resolver, as a running runtime has it."""
    with RUNTIME_PATCHES.applied(PATCH):
        yield


def resolve_two_at_once(overlap_seconds: float) -> dict[str, list[str | None]]:
    """Resolve a GET for user a and, while its route runs, one for user b on another resolver;
    what each route read as its userId (a's before and after b started)."""
    first, second = APIGatewayRestResolver(), APIGatewayRestResolver()
    a_inside, b_inside = threading.Event(), threading.Event()
    read: dict[str, list[str | None]] = {}

    @first.get("/who")
    def who_first() -> dict:
        seen = [first.current_event.get_query_string_value("userId")]
        a_inside.set()
        b_inside.wait(overlap_seconds)
        read["a"] = [*seen, first.current_event.get_query_string_value("userId")]
        return {}

    @second.get("/who")
    def who_second() -> dict:
        b_inside.set()
        read["b"] = [second.current_event.get_query_string_value("userId")]
        return {}

    context = LambdaContext()  # the routes read none of it
    a = threading.Thread(target=first.resolve, args=(api_event("/who", {"userId": "a"}), context))
    a.start()
    assert a_inside.wait(WAIT_SECONDS)
    second.resolve(api_event("/who", {"userId": "b"}), context)
    a.join()
    return read


def test_two_resolves_at_once_each_read_their_own_event():
    read = resolve_two_at_once(OVERLAP_SECONDS)

    assert read == {"a": ["a", "a"], "b": ["b"]}


def test_without_the_runtimes_lock_a_resolve_reads_the_others_event(monkeypatch):
    monkeypatch.setattr(lambdas, "_resolving", contextlib.nullcontext())

    read = resolve_two_at_once(WAIT_SECONDS)  # b gets in: no lock keeps it out

    assert read == {"a": ["a", "b"], "b": ["b"]}  # Powertools' shared state: why the lock
