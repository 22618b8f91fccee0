"""What every API Gateway proxy handler shares: a small resolver and the mapping of errors to HTTP.

The resolver does for the GET handlers what they used of Powertools' APIGatewayRestResolver: a
route per method and path (or resource, for a path with a parameter), the event's query string
and path parameters, a ValidationError answered with its 400, a NotFoundError with its 404 and
anything else with a bare 500, in the REST proxy integration's answer. Powertools' event handler
was the GET handlers' largest import beyond boto3 (its package imports every resolver it has, the
event classes of every AWS source and asyncio): about 29 ms of CPU at each cold start in the
bench's Lambda-like process, 0.16x of the boto3 baseline, which took them past the 1.2x target
(docs/performance.md, "Cold start"). This is the part of it the API uses.

The event being resolved is kept per thread: a Lambda sandbox resolves one event at a time, but
the local runtime runs the handlers of concurrent requests in threads of one process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from functions.domain.errors import NotFoundError, ValidationError
from functions.domain.requests import is_valid_text
from functions.http_errors import INTERNAL_ERROR, error_body, http_error_for
from functions.observability import logger

Route = Callable[[], dict[str, Any]]


class RouteNotFoundError(Exception):
    """The event names a method and path the function has no route for: API Gateway sent it
    a request its API does not send there (a deployment error)."""


class ProxyEvent:
    """The parts of API Gateway's REST proxy event that the routes read."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.raw = event

    def get_query_string_value(self, name: str, default: str | None = None) -> str | None:
        """The parameter's value (its last one when it was given more than once), as API Gateway
        puts it in queryStringParameters."""
        return (self.raw.get("queryStringParameters") or {}).get(name, default)

    @property
    def path_parameters(self) -> dict[str, str]:
        """The path's parameters by name ({holdId} of /holds/{holdId}), as API Gateway puts them
        in pathParameters (null when the resource has none)."""
        return self.raw.get("pathParameters") or {}

    @property
    def multi_value_query_string_parameters(self) -> dict[str, list[str]]:
        return self.raw.get("multiValueQueryStringParameters") or {}


class Resolver:
    """Routes GET requests of a REST proxy integration to functions of no arguments: by the
    path, or by the resource (its template, "/holds/{holdId}") for a path with parameters."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Route] = {}
        self._local = threading.local()

    def get(self, path: str) -> Callable[[Route], Route]:
        def register(route: Route) -> Route:
            self._routes["GET", path] = route
            return route

        return register

    @property
    def current_event(self) -> ProxyEvent:
        """The event this thread is resolving."""
        return self._local.event  # type: ignore[no-any-return]

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._local.event = ProxyEvent(event)
        try:
            refuse_query_text_that_was_not_utf8(self.current_event)
            method = event.get("httpMethod", "")
            route = self._routes.get((method, event.get("path", ""))) or self._routes.get(
                (method, event.get("resource", ""))
            )
            if route is None:
                raise RouteNotFoundError(f"{event.get('httpMethod')} {event.get('path')}")
            return answer(200, route())
        except (ValidationError, NotFoundError) as error:
            status = http_error_for(type(error).__name__).status
            return answer(status, error_body(error.code, str(error)))
        except Exception:
            logger.exception("unexpected error")
            return answer(
                INTERNAL_ERROR.status, error_body(INTERNAL_ERROR.code, INTERNAL_ERROR.message)
            )
        finally:
            del self._local.event


def resolver() -> Resolver:
    """A resolver answering a ValidationError with its 400, a NotFoundError with its 404, and
    anything else with a bare 500."""
    return Resolver()


def answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The proxy integration's answer, a JSON body spaced as json.dumps writes it (", " and ": "),
    like the POST's mapping template and API Gateway's own answers: every body of the API has one
    form."""
    return {
        "statusCode": status,
        "body": json.dumps(body),
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }


def refuse_query_text_that_was_not_utf8(event: ProxyEvent) -> None:
    """A query string parameter holding U+FFFD is a 400, whether the handler reads it or not.

    API Gateway decodes a query string's percent-escapes as UTF-8 and puts U+FFFD where they are
    not (functions.domain.requests.REPLACEMENT_CHARACTER says why that must not reach an id).

    Raises: ValidationError naming the parameter (or "name" when the name itself is not text).
    """
    for name, values in event.multi_value_query_string_parameters.items():
        if not all(is_valid_text(text) for text in (name, *values)):
            shown = name if is_valid_text(name) else "name"
            raise ValidationError(f"query parameter {shown} must be valid UTF-8 text")
