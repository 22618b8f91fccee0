"""Parsing of client input into domain models; every message names the offending field."""

import json
import re
import unicodedata
from decimal import Decimal
from typing import Any

from functions.domain.errors import ValidationError
from functions.domain.models import (
    HoldCommand,
    HoldOperation,
    ReversalRequest,
    TransactionRequest,
    TransactionType,
    TransferRequest,
)
from functions.domain.money import parse_amount

MAX_USER_ID_LENGTH = 128
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Characters as Java counts them (UTF-16 code units: an emoji is 2). API Gateway's request
# template (infra/openapi.yaml) enforces it: a longer body is not forwarded, and the execution
# input carries {"tooLarge": true, "length": n} in its place. The body is JSON-escaped twice on
# its way into StartSyncExecution's request (at worst 7 characters per code unit), so even the
# worst case stays far below Step Functions' 256 KiB execution input limit.
MAX_BODY_LENGTH = 16_384


class _StrictJsonError(ValueError):
    """JSON that Python's json module accepts but RFC 8259 does not, or that is ambiguous."""


EMPTY_BODY_MESSAGE = "body is required: a JSON object with userId, ammount and type"


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


# API Gateway hands a REST API's text payload to its integration as UTF-8 text: a byte sequence
# that is not UTF-8 arrives as U+FFFD, the original bytes lost ($input.body and the proxy event's
# body alike). Two different malformed user ids would then name one wallet, so the replacement
# character is refused wherever client text is read; a client that really sends U+FFFD sends the
# mark of text that was already lost.
REPLACEMENT_CHARACTER = "\ufffd"


def is_valid_text(value: str) -> bool:
    """False when `value` holds U+FFFD: bytes that were not UTF-8 on their way in."""
    return REPLACEMENT_CHARACTER not in value


def _has_lone_surrogates(value: str) -> bool:
    # A JSON escape such as "\ud800" decodes to a lone surrogate: not valid UTF-8, so DynamoDB
    # (and moto) cannot store it; accepting it would turn client input into a 500 (invariant 6).
    return any(unicodedata.category(char) == "Cs" for char in value)


def parse_user_id(value: object) -> str:
    """Raises: ValidationError unless 1-128 characters of valid UTF-8 text, none a control
    character."""
    if not isinstance(value, str) or not value:
        raise ValidationError("userId is required and must be a non-empty string")
    if len(value) > MAX_USER_ID_LENGTH:
        raise ValidationError(f"userId must be at most {MAX_USER_ID_LENGTH} characters")
    if _has_control_characters(value):
        raise ValidationError("userId must not contain control characters")
    if _has_lone_surrogates(value) or not is_valid_text(value):
        raise ValidationError("userId must be valid UTF-8 text")
    return value


def parse_idempotency_key(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("Idempotent-Key header is required")
    if len(value) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationError(
            f"Idempotent-Key header must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
        )
    if _has_control_characters(value):
        raise ValidationError("Idempotent-Key header must not contain control characters")
    if _has_lone_surrogates(value) or not is_valid_text(value):
        raise ValidationError("Idempotent-Key header must be valid UTF-8 text")
    return value


def _utf16_length(value: str) -> int:
    return len(value.encode("utf-16-le", "surrogatepass")) // 2


def _too_large(length: object) -> ValidationError:
    size = f"{length} characters; " if type(length) is int else ""
    return ValidationError(f"body is too large ({size}at most {MAX_BODY_LENGTH} characters)")


def _reject_constant(name: str) -> float:
    # Python's json reads NaN, Infinity and -Infinity; JSON has no such values.
    raise _StrictJsonError(f"{name} is not a JSON value")


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python's json keeps the last of duplicate names: {"userId": "1", "userId": "2"} would
    # credit user 2 while a client (or a log reader) may take the first. Ambiguous, so refused.
    names: set[str] = set()
    for name, _ in pairs:
        if name in names:
            shown = json.dumps(name)
            shown = shown if len(shown) <= 40 else shown[:36] + '..."'
            raise _StrictJsonError(f"the name {shown} appears twice in an object")
        names.add(name)
    return dict(pairs)


def _parse_body(body: object, empty_message: str = EMPTY_BODY_MESSAGE) -> dict[str, Any]:
    """`body` is the raw text, or the request template's marker for a body it did not forward."""
    if isinstance(body, dict) and body.get("tooLarge") is True:
        raise _too_large(body.get("length"))
    if not isinstance(body, str) or not body.strip():
        raise ValidationError(empty_message)
    length = _utf16_length(body)
    if length > MAX_BODY_LENGTH:
        raise _too_large(length)
    if not is_valid_text(body):
        raise ValidationError("body must be valid UTF-8 text")
    try:
        parsed = json.loads(body, parse_constant=_reject_constant, object_pairs_hook=_unique_names)
    except _StrictJsonError as error:
        raise ValidationError(f"body must be valid JSON: {error}") from error
    except (ValueError, RecursionError) as error:
        raise ValidationError("body must be a JSON object") from error
    if not isinstance(parsed, dict):
        raise ValidationError("body must be a JSON object")
    if not parsed:
        # API Gateway hands the request template "{}" for an empty payload (and the local gateway
        # does the same), so "{}", an empty body and none cannot be told apart: all three are
        # answered as the missing body they most likely are.
        raise ValidationError(empty_message)
    return parsed


def _parse_type(value: object) -> TransactionType:
    if value not in ("credit", "debit"):
        raise ValidationError('type must be "credit" or "debit"')
    return TransactionType(value)


def _parse_amount_field(payload: dict[str, Any], spelling: str) -> Decimal:
    """The amount under either spelling (`ammount`, the contract's, or its alias `amount`);
    `spelling` is the one a missing amount is asked for by. Both may be sent if they are the same
    amount ("10" and "10.00" are), each checked under its own name."""
    present = [field for field in ("ammount", "amount") if field in payload]
    if not present:
        alias = "amount" if spelling == "ammount" else "ammount"
        raise ValidationError(f"{spelling} is required ({alias} is accepted too)")
    amounts = {parse_amount(payload[field], field) for field in present}
    if len(amounts) > 1:
        raise ValidationError("ammount and amount differ; send only one")
    return amounts.pop()


def parse_transaction_request(body: object, idempotency_key: object) -> TransactionRequest:
    """Raises: ValidationError naming the first invalid field."""
    key = parse_idempotency_key(idempotency_key)
    payload = _parse_body(body)
    user_id = parse_user_id(payload.get("userId"))
    transaction_type = _parse_type(payload.get("type"))
    amount = _parse_amount_field(payload, "ammount")
    return TransactionRequest(user_id, key, transaction_type, amount)


def _field_user_id(payload: dict[str, Any], field: str) -> str:
    try:
        return parse_user_id(payload.get(field))
    except ValidationError as error:
        # parse_user_id's messages name userId; a transfer's two users are named apart.
        raise ValidationError(str(error).replace("userId", field, 1)) from error


def parse_transfer_request(body: object, idempotency_key: object) -> TransferRequest:
    """Raises: ValidationError naming the first invalid field, or both users if they are one."""
    key = parse_idempotency_key(idempotency_key)
    payload = _parse_body(body)
    from_user_id = _field_user_id(payload, "fromUserId")
    to_user_id = _field_user_id(payload, "toUserId")
    if from_user_id == to_user_id:
        raise ValidationError("fromUserId and toUserId must be different users")
    amount = _parse_amount_field(payload, "amount")
    return TransferRequest(from_user_id, to_user_id, key, amount)


# A hold's lifetime: 1 second to 30 days, 7 days unless asked.
MAX_HOLD_SECONDS = 2_592_000
DEFAULT_HOLD_SECONDS = 604_800


def _hold_amount(payload: dict[str, Any], required: bool) -> Any:
    """A hold's amount: the contract spells it `amount`, `ammount` is the alias (as elsewhere)."""
    if not required and "amount" not in payload and "ammount" not in payload:
        return None
    return _parse_amount_field(payload, "amount")


def _expires_in(payload: dict[str, Any]) -> int:
    value = payload.get("expiresInSeconds", DEFAULT_HOLD_SECONDS)
    # bool is an int in Python, and 3600.0 a float: JSON's true and 3600.0 are refused.
    if type(value) is not int or not 1 <= value <= MAX_HOLD_SECONDS:
        raise ValidationError(f"expiresInSeconds must be an integer from 1 to {MAX_HOLD_SECONDS}")
    return value


def parse_hold_id(value: object) -> str:
    """Raises: ValidationError naming holdId unless it is an id as userId is."""
    try:
        return parse_user_id(value)
    except ValidationError as error:
        raise ValidationError(str(error).replace("userId", "holdId", 1)) from error


def parse_hold_command(
    operation: object, body: object, idempotency_key: object, hold_id: object
) -> HoldCommand:
    """POST /holds (key, userId, amount, expiresInSeconds), or a capture (userId, amount
    optional) or void (userId) of the hold named in the path.

    Raises: ValidationError naming the first invalid field.
    """
    if operation not in tuple(HoldOperation):
        raise ValidationError("the operation must be place, capture or void")
    kind = HoldOperation(str(operation))
    if kind is HoldOperation.PLACE:
        key = parse_idempotency_key(idempotency_key)
        payload = _parse_body(body)
        user_id = parse_user_id(payload.get("userId"))
        amount = _hold_amount(payload, required=True)
        return HoldCommand(kind, user_id, None, key, amount, _expires_in(payload))
    parsed_hold_id = parse_hold_id(hold_id)
    payload = _parse_body(body)
    user_id = parse_user_id(payload.get("userId"))
    amount = _hold_amount(payload, required=False) if kind is HoldOperation.CAPTURE else None
    return HoldCommand(kind, user_id, parsed_hold_id, None, amount)


REVERSAL_BODY_MESSAGE = "body is required: a JSON object with userId"


def parse_reversal_request(body: object, transaction_id: object) -> ReversalRequest:
    """The path's transactionId (an id as a userId is: 1-128 characters of text, no control
    character), then the body's userId, its owner.

    Raises: ValidationError naming the first invalid field.
    """
    reversed_id = _field_user_id({"transactionId": transaction_id}, "transactionId")
    payload = _parse_body(body, REVERSAL_BODY_MESSAGE)
    return ReversalRequest(parse_user_id(payload.get("userId")), reversed_id)


DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_PAGE_SIZE = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)


def parse_limit(value: str | None) -> int:
    """Raises: ValidationError unless absent (the default) or an integer 1-100 in plain digits."""
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not _PAGE_SIZE.fullmatch(value) or int(value) > MAX_PAGE_SIZE:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def parse_cursor(value: str | None) -> str | None:
    """Raises: ValidationError if present but empty (only a cursor this service issued is valid;
    the first page is asked for without one)."""
    if value is not None and not value:
        raise ValidationError("cursor must not be empty; leave it out for the first page")
    return value
