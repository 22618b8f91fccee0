"""CloudWatch Logs' filter patterns for JSON log events (`{ $.type = "ExecutionFailed" }`), in
FilterLogEvents.

moto 5.2.5 knows only terms and quoted phrases: any other pattern matches every event, so
`aws logs filter-log-events --filter-pattern '{ $.type = "ExecutionFailed" }'` on a state
machine's log group listed all of its events. Here a JSON pattern is read as AWS documents it
("Filter pattern syntax for JSON log events"): selectors `$.a.b[0]`, `=` and `!=` with a string
(quoted or not, `*` a wildcard) or a number, `<`, `<=`, `>`, `>=` with a number, `IS NULL`,
`IS TRUE`, `IS FALSE`, `NOT EXISTS`, `&&`, `||` and parentheses. An event that is not a JSON object
matches no JSON pattern. A pattern outside this is left to moto
(tests/local/logs/test_filter_patterns.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

_TOKEN = re.compile(
    r'\s*(?:(?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))|(?P<str>"(?:[^"\\]|\\.)*")'
    r"|(?P<sel>\$(?:\.[A-Za-z0-9_@-]+|\[\d+\])+)|(?P<word>[^\s()=!<>&|]+))"
)
_MISSING = object()

Predicate = Callable[[Any], bool]


class UnsupportedPattern(ValueError):
    """Not a JSON filter pattern this module reads."""


def parse(pattern: str) -> Predicate:
    """The predicate of a JSON pattern over a decoded event; raises UnsupportedPattern."""
    text = pattern.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise UnsupportedPattern(pattern)
    tokens = _tokens(text[1:-1])
    predicate, rest = _disjunction(tokens)
    if rest:
        raise UnsupportedPattern(pattern)
    return predicate


def matches(pattern: str, message: str) -> bool:
    """Whether `message` (an event's text) matches the JSON `pattern`."""
    try:
        event = json.loads(message)
    except ValueError:
        return False
    return isinstance(event, dict) and parse(pattern)(event)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while text[position:].strip():
        found = _TOKEN.match(text, position)
        if not found:
            raise UnsupportedPattern(text)
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _disjunction(tokens: list[tuple[str, str]]) -> tuple[Predicate, list[tuple[str, str]]]:
    left, tokens = _conjunction(tokens)
    while tokens and tokens[0] == ("op", "||"):
        right, tokens = _conjunction(tokens[1:])
        left = (lambda a, b: lambda event: a(event) or b(event))(left, right)
    return left, tokens


def _conjunction(tokens: list[tuple[str, str]]) -> tuple[Predicate, list[tuple[str, str]]]:
    left, tokens = _term(tokens)
    while tokens and tokens[0] == ("op", "&&"):
        right, tokens = _term(tokens[1:])
        left = (lambda a, b: lambda event: a(event) and b(event))(left, right)
    return left, tokens


def _term(tokens: list[tuple[str, str]]) -> tuple[Predicate, list[tuple[str, str]]]:
    if tokens and tokens[0] == ("op", "("):
        inner, rest = _disjunction(tokens[1:])
        if not rest or rest[0] != ("op", ")"):
            raise UnsupportedPattern("unbalanced parentheses")
        return inner, rest[1:]
    if len(tokens) < 3 or tokens[0][0] != "sel":
        raise UnsupportedPattern("a comparison starts with a selector")
    select = _selector(tokens[0][1])
    words = [value.upper() for _, value in tokens[1:3]]
    if words in (["IS", "NULL"], ["IS", "TRUE"], ["IS", "FALSE"], ["NOT", "EXISTS"]):
        expected = {"NULL": None, "TRUE": True, "FALSE": False, "EXISTS": _MISSING}[words[1]]
        return (lambda event: select(event) is expected), tokens[3:]
    (kind, operator), (value_kind, value) = tokens[1], tokens[2]
    if kind != "op" or value_kind not in ("str", "word"):
        raise UnsupportedPattern("a comparison is a selector, an operator and a value")
    return _comparison(select, operator, value, quoted=value_kind == "str"), tokens[3:]


Selector = Callable[[Any], Any]


def _comparison(select: Selector, operator: str, value: str, *, quoted: bool) -> Predicate:
    number = None if quoted else _number(value)
    if operator in ("<", "<=", ">", ">="):
        if number is None:
            raise UnsupportedPattern("an order is compared with a number")
        order = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
        compare = order[operator]
        return lambda event: _is_number(found := select(event)) and compare(float(found), number)
    if operator not in ("=", "!="):
        raise UnsupportedPattern(operator)
    text = json.loads(value) if quoted else value

    def equal(event: Any) -> bool:
        found = select(event)
        if number is not None and _is_number(found):
            return float(found) == number
        return isinstance(found, str) and fnmatchcase(found, text)

    if operator == "=":
        return equal
    return lambda event: select(event) is not _MISSING and not equal(event)


def _selector(text: str) -> Callable[[Any], Any]:
    steps: list[str | int] = [
        int(index) if index else name
        for name, index in re.findall(r"\.([A-Za-z0-9_@-]+)|\[(\d+)\]", text)
    ]

    def select(event: Any) -> Any:
        for step in steps:
            in_list = isinstance(step, int) and isinstance(event, list) and step < len(event)
            in_dict = isinstance(step, str) and isinstance(event, dict) and step in event
            if not (in_list or in_dict):
                return _MISSING
            event = event[step]
        return event

    return select


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def with_json_patterns(original: type) -> type:
    """Replaces moto.logs.models:EventMessageFilter: a JSON pattern read here, any other moto's."""

    class EventMessageFilter:
        def __init__(self, pattern: str) -> None:
            self._moto = original(pattern)
            try:
                self._json: Predicate | None = parse(pattern) if pattern else None
            except UnsupportedPattern:
                self._json = None

        def matches(self, message: str) -> bool:
            if self._json is None:
                return bool(self._moto.matches(message))
            try:
                event = json.loads(message)
            except ValueError:
                return False
            return isinstance(event, dict) and self._json(event)

    return EventMessageFilter
