"""docs/api.md's table of error codes is the one the code and the OpenAPI document answer with."""

import json
import re

import yaml

from functions.http_errors import HTTP_ERRORS, INTERNAL_ERROR
from tests.consistency.conftest import ROOT

PAGE = ROOT / "docs" / "api.md"
# In the contract, never produced: a request whose key is in flight waits and replays instead.
CONTRACT_ONLY = {"IDEMPOTENCY_KEY_IN_USE": 409}


def documented_codes(page: str) -> dict[str, int]:
    """Each code of the page's "Error codes" table, with its status."""
    section = page[page.index("\n## Error codes\n") :]
    section = section[: section.index("\n## ", 1)]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", section, re.M)
    return {code: int(status) for code, status in rows}


def answered_codes() -> dict[str, int]:
    """What the functions' errors and API Gateway's own responses answer, code to status."""
    codes = {error.code: error.status for error in [*HTTP_ERRORS.values(), INTERNAL_ERROR]}
    document = yaml.safe_load((ROOT / "infra" / "openapi.yaml").read_text())
    for response in document["x-amazon-apigateway-gateway-responses"].values():
        body = json.loads(response["responseTemplates"]["application/json"])
        codes[body["error"]["code"]] = int(response["statusCode"])
    return codes


def test_the_error_codes_table_is_every_code_the_api_answers_with_its_status():
    assert documented_codes(PAGE.read_text()) == answered_codes() | CONTRACT_ONLY


def test_a_code_missing_from_the_table_or_with_another_status_is_found():
    page = PAGE.read_text()
    table = documented_codes(page)

    assert documented_codes(page.replace("| `NOT_FOUND` | 404 |", "| `NOT_FOUND` | 410 |")) == {
        **table,
        "NOT_FOUND": 410,
    }
    assert "USER_BUSY" not in documented_codes(page.replace("| `USER_BUSY` |", "| USER_BUSY |"))
