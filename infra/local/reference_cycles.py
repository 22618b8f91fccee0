"""What the runtime changes in what every request goes through (botocore's response parsers,
moto's request objects, jmespath's interpreter), so that a request leaves no reference cycle
behind.

What they do: botocore builds a new response parser for every response, and each parser keeps a
bound method of itself (its blob parser), as does the event-stream parser it builds; moto turns
every request it answers into a werkzeug Request, which puts itself in its own WSGI environ
(`environ["werkzeug.request"]`); jmespath builds an interpreter per search (Powertools' Logger
searches the event for the correlation id at every invocation), which caches bound methods of
itself. Each is a reference cycle, so all of it, environ, headers, body stream and parsed forms
included, waits for the cyclic garbage collector: about 230 objects per committed transaction,
most of what the runtime's other patches (dynamodb/expressions.py, stepfunctions/interpreter.py)
left.

Why that is wrong for us: `make run` runs for hours; objects that only the cyclic collector frees
make it run often, and its full collections pause every thread for a time that grows with the
heap.

What this does instead: one parser per protocol and factory, shared (a parser keeps no state of a
response: each parse works on its arguments); moto's requests are built without the environ's
pointer back (nothing in moto or the runtime reads it); jmespath's visits cache the function per
class, not a bound method per interpreter. The patches are declared in infra/local/patches.py.

Proven by tests/local/test_garbage.py (cyclic garbage per transaction, and per patch).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


def parsers_kept(create_parser: Callable[..., Any]) -> Callable[..., Any]:
    """`ResponseParserFactory.create_parser`: one parser per protocol and defaults, reused."""
    lock = threading.Lock()

    @functools.wraps(create_parser)
    def create_parser_once(self: Any, protocol_name: str) -> Any:
        kept: dict[Any, Any] = self.__dict__.setdefault("_local_parsers", {})
        key = (protocol_name, tuple(sorted(self._defaults.items())))
        with lock:
            if key not in kept:
                kept[key] = create_parser(self, protocol_name)
            return kept[key]

    return create_parser_once


def request_not_in_environ(init: Callable[..., None]) -> Callable[..., None]:
    """moto's `Request.__init__`, with werkzeug's `populate_request` off."""

    @functools.wraps(init)
    def init_without_back_pointer(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("populate_request", False)
        init(self, *args, **kwargs)

    return init_without_back_pointer


def visits_by_class(visit: Callable[..., Any]) -> Callable[..., Any]:
    """jmespath's `Visitor.visit`, finding the method by the visitor's class."""
    methods: dict[tuple[type, str], Callable[..., Any]] = {}

    @functools.wraps(visit)
    def visit_by_class(self: Any, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        key = (type(self), node["type"])
        method = methods.get(key)
        if method is None:
            method = getattr(type(self), f"visit_{node['type']}", type(self).default_visit)
            methods[key] = method
        return method(self, node, *args, **kwargs)

    return visit_by_class
