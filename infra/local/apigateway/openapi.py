"""infra/openapi.yaml as API Gateway reads it: placeholders, templates, response mapping."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.local.apigateway.vtl import RenderResult, render

__all__ = [
    "HttpResponse",
    "RenderResult",
    "gateway_response",
    "integration_of",
    "integration_response",
    "load_openapi",
    "map_integration_response",
    "media_type",
    "placeholders",
    "read_openapi",
    "render",
    "request_template",
    "resolve_subs",
]

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
DEFAULT_CONTENT_TYPE = "application/json"

# Fn::Sub: ${Name} or ${Resource.Attribute} is a placeholder, ${!Text} the literal ${Text}.
_PLACEHOLDER = re.compile(r"\$\{(!?)([^}]*)\}")
_STATIC_VALUE = re.compile(r"^'(.*)'$", re.S)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def read_openapi(path: Path = OPENAPI_PATH) -> dict[str, Any]:
    """The document as written, Fn::Sub values unresolved."""
    with path.open(encoding="utf-8") as file:
        return yaml.safe_load(file)


def load_openapi(substitutions: Mapping[str, str], path: Path = OPENAPI_PATH) -> dict[str, Any]:
    """The document with every {"Fn::Sub": text} replaced by its text, placeholders filled in.

    Raises: KeyError naming a placeholder missing from `substitutions`.
    """
    return resolve_subs(read_openapi(path), substitutions)


def resolve_subs(node: Any, substitutions: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"}:
            return _substitute(node["Fn::Sub"], substitutions)
        return {key: resolve_subs(value, substitutions) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_subs(item, substitutions) for item in node]
    return node


def _substitute(text: Any, substitutions: Mapping[str, str]) -> str:
    if not isinstance(text, str):
        raise ValueError("only the string form of Fn::Sub is supported")

    def replace(match: re.Match[str]) -> str:
        is_literal, name = match.groups()
        if is_literal:
            return "${" + name + "}"
        if name not in substitutions:
            raise KeyError(f"no value for the placeholder ${{{name}}}")
        return substitutions[name]

    return _PLACEHOLDER.sub(replace, text)


def placeholders(node: Any) -> set[str]:
    """Every placeholder name inside the document's Fn::Sub values."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return {name for bang, name in _PLACEHOLDER.findall(node["Fn::Sub"]) if not bang}
        return set().union(*(placeholders(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(placeholders(item) for item in node))
    return set()


def integration_of(document: Mapping[str, Any], path: str, method: str) -> dict[str, Any]:
    """Raises: KeyError when the document has no such operation."""
    return document["paths"][path][method.lower()]["x-amazon-apigateway-integration"]


def media_type(content_type: str | None) -> str:
    """The media type templates are selected by; no Content-Type counts as application/json."""
    if not content_type or not content_type.strip():
        return DEFAULT_CONTENT_TYPE
    return content_type.split(";", 1)[0].strip().lower()


def request_template(integration: Mapping[str, Any], content_type: str | None) -> str | None:
    """The request template for this Content-Type; None when there is none.

    With passthroughBehavior NEVER, None means API Gateway refuses the request
    (UNSUPPORTED_MEDIA_TYPE, see gateway_response).
    """
    templates = integration.get("requestTemplates") or {}
    wanted = media_type(content_type)
    for key, template in templates.items():
        if key.lower() == wanted:
            return template
    return None


def integration_response(integration: Mapping[str, Any], status_code: int) -> dict[str, Any]:
    """The integration response whose selectionPattern matches the status, else "default".

    For AWS and HTTP integrations API Gateway matches the pattern against the backend's status
    code, as a whole (Java's String.matches).
    Raises: LookupError when nothing matches and there is no default.
    """
    responses = integration.get("responses") or {}
    for response in responses.values():
        pattern = response.get("selectionPattern")
        if pattern and re.fullmatch(pattern, str(status_code)):
            return response
    if "default" in responses:
        return responses["default"]
    raise LookupError(f"no integration response for status {status_code}")


def map_integration_response(
    integration: Mapping[str, Any],
    status_code: int,
    body: str,
    *,
    params: Mapping[str, Mapping[str, str]],
    context: Mapping[str, Any],
    stage_variables: Mapping[str, str] | None = None,
) -> HttpResponse:
    """The client's response for a backend answer: selection, static headers, template, overrides.

    Raises: InvalidJsonBodyError or TemplateError from the template (API Gateway answers 500).
    """
    response = integration_response(integration, status_code)
    headers = {}
    for target, source in (response.get("responseParameters") or {}).items():
        static = _STATIC_VALUE.match(source)
        if target.startswith("method.response.header.") and static:
            headers[target.removeprefix("method.response.header.")] = static.group(1)
    status = int(response["statusCode"])
    templates = response.get("responseTemplates") or {}
    template = templates.get(DEFAULT_CONTENT_TYPE)
    if template is None:
        return HttpResponse(status, headers, body)
    result = render(
        template, body=body, params=params, context=context, stage_variables=stage_variables
    )
    headers.update(result.header_overrides)
    return HttpResponse(result.status_override or status, headers, result.text)


def gateway_response(document: Mapping[str, Any], response_type: str) -> HttpResponse | None:
    """A response API Gateway sends itself (UNSUPPORTED_MEDIA_TYPE, DEFAULT_5XX, ...), if defined.

    Only static header values are supported.
    """
    responses = document.get("x-amazon-apigateway-gateway-responses") or {}
    response = responses.get(response_type)
    if response is None:
        return None
    headers = {}
    for target, source in (response.get("responseParameters") or {}).items():
        static = _STATIC_VALUE.match(source)
        if target.startswith("gatewayresponse.header.") and static:
            headers[target.removeprefix("gatewayresponse.header.")] = static.group(1)
    template = (response.get("responseTemplates") or {}).get(DEFAULT_CONTENT_TYPE, "")
    return HttpResponse(int(response["statusCode"]), headers, render(template).text)
