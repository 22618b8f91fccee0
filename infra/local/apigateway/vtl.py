"""API Gateway mapping templates: Velocity 1.7 via airspeed-ext, with $input, $util and $context."""

import base64
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import airspeed
from airspeed import operators

__all__ = [
    "InvalidJsonBodyError",
    "RenderResult",
    "TemplateError",
    "escape_javascript",
    "java_string",
    "jsonpath",
    "render",
]

TemplateError = airspeed.TemplateError


class InvalidJsonBodyError(ValueError):
    """$input.path or $input.json on a body that is not JSON (API Gateway answers 400)."""


@dataclass(frozen=True)
class RenderResult:
    text: str
    status_override: int | None = None
    header_overrides: dict[str, str] = field(default_factory=dict)


# Java's toString(), as Velocity prints values.


def java_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, str | int | JavaMap | JavaList):
        return str(value)
    if isinstance(value, Mapping):
        return _map_string(value)
    if isinstance(value, Iterable):
        return _list_string(value)
    return str(value)


def _map_string(value: Mapping) -> str:
    return "{" + ", ".join(f"{java_string(k)}={java_string(v)}" for k, v in value.items()) + "}"


def _list_string(value: Iterable) -> str:
    return "[" + ", ".join(java_string(item) for item in value) + "]"


def _java_double(value: float) -> str:
    """Double.toString: plain from 10^-3 to 10^7, else d.dddE<n>; shortest digits either way."""
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("-" if value < 0 else "") + "Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    significant = "".join(map(str, digits)).rstrip("0") or "0"
    scientific = len(digits) - 1 + int(exponent)
    return f"{'-' if sign else ''}{significant[0]}.{significant[1:] or '0'}E{scientific}"


def velocity_equals(left: Any, right: Any) -> bool:
    """Velocity 1.7 `==`: numbers by value, same kinds by equals(), otherwise by toString()."""
    if left is None or right is None:
        return left is None and right is None
    if _is_number(left) and _is_number(right):
        return left == right
    if _kind(left) == _kind(right):
        return bool(left == right)
    return java_string(left) == java_string(right)


def velocity_truth(value: Any) -> bool:
    """Velocity 1.7 #if: null is false, a Boolean is itself, anything else (even "" or 0) true."""
    if value is None:
        return False
    return value if isinstance(value, bool) else True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> type:
    for kind in (bool, str, Mapping, list):
        if isinstance(value, kind):
            return kind
    return type(value)


# Java collections: printed and queried the Java way (methods keep their Java names).


class JavaMap(dict):
    """A java.util.Map: prints as {k=v}, and has size(), containsKey(), keySet() ..."""

    def __str__(self) -> str:
        return _map_string(self)

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def containsKey(self, key: Any) -> bool:
        return key in self

    def containsValue(self, value: Any) -> bool:
        return value in self.values()

    def keySet(self) -> "JavaList":
        return JavaList(self.keys())

    def put(self, key: Any, value: Any) -> Any:
        previous = self.get(key)
        self[key] = value
        return previous

    def putAll(self, values: Mapping) -> None:
        self.update(values)

    def remove(self, key: Any) -> Any:
        return self.pop(key, None)

    def toString(self) -> str:
        return java_string(self)

    def equals(self, other: Any) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)


class JavaList(list):
    """A java.util.List: prints as [a, b]."""

    def __str__(self) -> str:
        return _list_string(self)

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def get(self, index: int) -> Any:
        return self[index]

    def contains(self, value: Any) -> bool:
        return value in self

    def add(self, value: Any) -> bool:
        self.append(value)
        return True

    def toString(self) -> str:
        return java_string(self)

    def equals(self, other: Any) -> bool:
        return isinstance(other, list) and list(self) == list(other)


class JsonList(JavaList):
    """A list read from JSON ($input.path, $util.parseJson): API Gateway prints it as JSON."""

    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"), ensure_ascii=False)


def to_java(value: Any) -> Any:
    """Dicts and lists, recursively, as JavaMap and JavaList."""
    if isinstance(value, Mapping):
        return JavaMap((k, to_java(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return JavaList(to_java(item) for item in value)
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        return JavaMap((k, _from_json(v)) for k, v in value.items())
    if isinstance(value, list):
        return JsonList(_from_json(item) for item in value)
    return value


# java.lang.String methods used in templates, with Java regex and replacement semantics.

_JAVA_QUOTED = re.compile(r"\\Q(.*?)(?:\\E|$)", re.S)
_JAVA_GROUP_NAME = re.compile(r"\(\?<([A-Za-z][A-Za-z0-9]*)>")
_JAVA_BACKREF_NAME = re.compile(r"\\k<([A-Za-z][A-Za-z0-9]*)>")


@lru_cache(maxsize=256)
def java_regex(pattern: str) -> re.Pattern[str]:
    """A java.util.regex pattern as a Python one (\\Q..\\E quoting and named groups translated)."""
    translated = _JAVA_QUOTED.sub(lambda m: re.escape(m.group(1)), pattern)
    translated = _JAVA_GROUP_NAME.sub(r"(?P<\1>", translated)
    translated = _JAVA_BACKREF_NAME.sub(r"(?P=\1)", translated)
    return re.compile(translated)


def _java_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    """Matcher.appendReplacement: $n and ${name} are groups, a backslash quotes the next char."""
    parts: list[tuple[bool, str]] = []  # (is a group reference, literal text or group)
    index = 0
    while index < len(replacement):
        char = replacement[index]
        if char == "\\":
            if index + 1 >= len(replacement):
                raise ValueError("character to be escaped is missing")
            parts.append((False, replacement[index + 1]))
            index += 2
        elif char == "$":
            reference = _GROUP_REFERENCE.match(replacement, index + 1)
            if not reference:
                raise ValueError("Illegal group reference")
            parts.append((True, reference.group("name") or reference.group("number")))
            index = reference.end()
        else:
            parts.append((False, char))
            index += 1

    def expand(match: re.Match[str]) -> str:
        return "".join(_group(match, text) if is_group else text for is_group, text in parts)

    return expand


_GROUP_REFERENCE = re.compile(r"\{(?P<name>[A-Za-z][A-Za-z0-9]*)\}|(?P<number>[0-9]+)")


def _group(match: re.Match[str], reference: str) -> str:
    if not reference.isdigit():
        return match.group(reference) or ""
    # Java reads digits while they still name an existing group: $12 with one group is $1 "2".
    for length in range(len(reference), 0, -1):
        if int(reference[:length]) <= match.re.groups:
            return (match.group(int(reference[:length])) or "") + reference[length:]
    raise IndexError(f"No group {reference[0]}")


def java_replace_all(text: str, regex: str, replacement: str) -> str:
    return java_regex(regex).sub(_java_replacement(replacement), text)


def java_replace_first(text: str, regex: str, replacement: str) -> str:
    return java_regex(regex).sub(_java_replacement(replacement), text, count=1)


def java_split(text: str, regex: str) -> JavaList:
    parts = java_regex(regex).split(text) if text else [""]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return JavaList(parts)


def java_length(text: str) -> int:
    """String.length: UTF-16 code units (an emoji is 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def java_substring(text: str, begin: int, end: int | None = None) -> str:
    """String.substring: indexes count UTF-16 code units, as length() does."""
    length = java_length(text)
    end = length if end is None else end
    if not 0 <= begin <= end <= length:
        raise IndexError(f"begin {begin}, end {end}, length {length}")
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * begin : 2 * end].decode("utf-16-le", "surrogatepass")


_STRING_METHODS: dict[str, Callable[..., Any]] = {
    "replaceAll": java_replace_all,
    "replaceFirst": java_replace_first,
    "replace": lambda self, old, new: self.replace(java_string(old), java_string(new)),
    "matches": lambda self, regex: java_regex(regex).fullmatch(self) is not None,
    "split": java_split,
    "toString": lambda self: self,
    "equals": lambda self, other: isinstance(other, str) and self == other,
    "equalsIgnoreCase": lambda self, other: (
        isinstance(other, str) and self.lower() == other.lower()
    ),
    "toLowerCase": lambda self: self.lower(),
    "toUpperCase": lambda self: self.upper(),
    "trim": lambda self: self.strip("".join(chr(c) for c in range(33))),
    "length": java_length,
    "isEmpty": lambda self: not self,
    "contains": lambda self, value: java_string(value) in self,
    "startsWith": lambda self, prefix: self.startswith(prefix),
    "endsWith": lambda self, suffix: self.endswith(suffix),
    "indexOf": lambda self, value: self.find(java_string(value)),
    "lastIndexOf": lambda self, value: self.rfind(java_string(value)),
    "charAt": lambda self, index: self[index],
    "substring": lambda self, begin, end=None: java_substring(self, begin, end),
    "concat": lambda self, other: self + other,
}
_SCALAR_METHODS: dict[str, Callable[..., Any]] = {
    "toString": java_string,
    "equals": lambda self, other: type(self) is type(other) and self == other,
}
_MAP_METHODS = {
    name: getattr(JavaMap, name)
    for name in ("size", "isEmpty", "containsKey", "containsValue", "keySet", "toString", "equals")
} | {"remove": JavaMap.remove}
_LIST_METHODS = {name: getattr(JavaList, name) for name in ("toString", "equals")}


def _install_java_semantics() -> None:
    """Patch airspeed-ext where it differs from Velocity 1.7 on Java objects (measured gaps).

    Process-wide: airspeed-ext has no per-template hook. Additive for methods, and nothing else in
    this project renders Velocity.
    """
    table = operators.__additional_methods__
    table[str] = {**table.get(str, {}), **_STRING_METHODS}
    table[dict] = {**table.get(dict, {}), **_MAP_METHODS}
    table[list] = {**table.get(list, {}), **_LIST_METHODS}
    for scalar in (bool, int, float):
        table[scalar] = {**table.get(scalar, {}), **_SCALAR_METHODS}
    # Lists and maps print as Java's toString(), not Python's repr (True, None, quotes).
    operators.value_to_string = java_string
    equals = operators.BinaryOperator.OPERATORS
    equals["=="] = equals["eq"] = velocity_equals
    equals["!="] = equals["ne"] = lambda left, right: not velocity_equals(left, right)
    equals["+"] = _velocity_add
    operators.Assignment.evaluate_raw = _assign_unless_null
    # airspeed-ext takes null for true in #if and "" or 0 for false.
    operators.boolean_value = velocity_truth
    operators.Condition.calculate = lambda self, namespace, loader: velocity_truth(
        self.expression.calculate(namespace, loader)
    )
    operators.UnaryOperatorValue.calculate = lambda self, namespace, loader: (
        not velocity_truth(self.value.calculate(namespace, loader))
    )


def _velocity_add(left: Any, right: Any) -> Any:
    """Velocity 1.7 `+`: concatenates when either side is a String."""
    if left is None or right is None:
        return None
    if isinstance(left, str) or isinstance(right, str):
        return java_string(left) + java_string(right)
    return left + right


def _assign_unless_null(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """#set with a null right-hand side leaves the left-hand side unchanged (Velocity 1.7)."""
    value = self.value.calculate(namespace, loader)
    if value is None:
        return
    if not self.terms:
        namespace.set_inherited(self.root_term, value)
        return
    target = namespace[self.root_term]
    for term in self.terms[:-1]:
        target = target[term.calculate(namespace, loader)]
    target[self.terms[-1].calculate(namespace, loader)] = value


_install_java_semantics()


# JSONPath, the subset API Gateway templates use: $, .name, ['name'], [n], [*] and .*


_JSONPATH_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]]+)|\[\s*(?:(?P<index>-?\d+)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<all>\*))\s*\]"""
)


def jsonpath(document: Any, path: str) -> Any:
    """The value at `path`, None if absent; a JsonList of matches if the path has a wildcard."""
    path = path.strip()
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with $: {path!r}")
    position, nodes, definite = 1, [document], True
    while position < len(path):
        step = _JSONPATH_STEP.match(path, position)
        if not step:
            raise ValueError(f"unsupported JSONPath: {path!r}")
        position = step.end()
        key = step.group("name") or step.group("sq") or step.group("dq")
        if step.group("all") or key == "*":
            definite = False
            nodes = [child for node in nodes for child in _children(node)]
        elif step.group("index") is not None:
            nodes = [_item(node, int(step.group("index"))) for node in nodes]
        else:
            nodes = [node.get(key) if isinstance(node, Mapping) else None for node in nodes]
        nodes = [node for node in nodes if node is not None] if not definite else nodes
    if definite:
        return nodes[0]
    return JsonList(nodes)


def _children(node: Any) -> list[Any]:
    if isinstance(node, Mapping):
        return list(node.values())
    return list(node) if isinstance(node, list) else []


def _item(node: Any, index: int) -> Any:
    if isinstance(node, list) and -len(node) <= index < len(node):
        return node[index]
    return None


# $input, $util and $context.


class InputVariable:
    """$input: the request (or integration response) payload and the method request parameters."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]) -> None:
        # API Gateway hands templates "{}" for an empty payload (LocalStack measured this on AWS).
        self.body = body or "{}"
        self._params = JavaMap(
            (location, JavaMap(params.get(location) or {}))
            for location in ("path", "querystring", "header")
        )

    def _document(self) -> Any:
        try:
            return _from_json(json.loads(self.body))
        except ValueError as error:
            raise InvalidJsonBodyError(
                f"Could not parse request body into json: {error}"
            ) from error

    def path(self, path: str) -> Any:
        return jsonpath(self._document(), path)

    def json(self, path: str) -> str:
        return json.dumps(jsonpath(self._document(), path), separators=(",", ":"))

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for location in ("path", "querystring"):
            if name in self._params[location]:
                return self._params[location][name]
        # Header names are case-insensitive in HTTP.
        for header, value in self._params["header"].items():
            if header.lower() == name.lower():
                return value
        return ""


class UtilVariable:
    """$util."""

    def escapeJavaScript(self, value: Any) -> str | None:
        return None if value is None else escape_javascript(java_string(value))

    def parseJson(self, value: str) -> Any:
        return _from_json(json.loads(value))

    def urlEncode(self, value: str) -> str:
        # java.net.URLEncoder: space as +, and only A-Z a-z 0-9 . - * _ left alone.
        return quote_plus(value, safe="*").replace("~", "%7E")

    def urlDecode(self, value: str) -> str:
        return unquote_plus(value)

    def base64Encode(self, value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    def base64Decode(self, value: str) -> str:
        return base64.b64decode(value).decode()


_JS_ESCAPES = {
    "'": "\\'",
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def escape_javascript(value: str) -> str:
    """Commons Lang StringEscapeUtils.escapeJavaScript, which $util.escapeJavaScript is.

    Escapes quotes, backslash and slash; control characters as \\b \\f \\n \\r \\t or \\uXXXX;
    every character above U+007F as \\uXXXX in upper case (UTF-16, so astral ones as two).
    """
    out = []
    for char in value:
        code = ord(char)
        if code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04X}\\u{0xDC00 + low:04X}")
        elif code > 0x7F or (code < 0x20 and char not in _JS_ESCAPES):
            out.append(f"\\u{code:04X}")
        else:
            out.append(_JS_ESCAPES.get(char, char))
    return "".join(out)


@lru_cache(maxsize=64)
def _compiled(template: str) -> airspeed.Template:
    compiled = airspeed.Template(template)
    compiled.ensure_compiled()
    return compiled


def render(
    template: str,
    *,
    body: str = "",
    params: Mapping[str, Mapping[str, str]] | None = None,
    context: Mapping[str, Any] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> RenderResult:
    """Render a mapping template as API Gateway does.

    `params` has the maps "path", "querystring" and "header"; `context` the $context variables
    (requestId, ...). $context.responseOverride.status and .header.<name> come back in the result.

    Raises: InvalidJsonBodyError when the template reads a non-JSON body as JSON; TemplateError
    for any other failure (API Gateway answers 500 then).
    """
    response_override = JavaMap(status=None, header=JavaMap())
    variables = to_java(dict(context or {}))
    variables["responseOverride"] = response_override
    variables.setdefault(
        "requestOverride", JavaMap(header=JavaMap(), path=JavaMap(), querystring=JavaMap())
    )
    namespace = {
        "input": InputVariable(body, params or {}),
        "util": UtilVariable(),
        "context": variables,
        "stageVariables": to_java(dict(stage_variables or {})),
    }
    try:
        text = _compiled(template).merge(namespace)
    except airspeed.TemplateExecutionError as error:
        cause = error.__cause__
        while cause is not None and not isinstance(cause, InvalidJsonBodyError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from error
        raise
    status = response_override.get("status")
    headers = response_override.get("header") or {}
    return RenderResult(
        text=text,
        status_override=None if status is None else int(java_string(status)),
        header_overrides={
            java_string(name): java_string(value)
            for name, value in headers.items()
            if value is not None
        },
    )
