"""The one table from Step Functions error names to HTTP responses, and the error body."""

import msgspec


class HttpError(msgspec.Struct, frozen=True):
    status: int
    code: str
    message: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)


# Keep infra/openapi.yaml's response template in step (tests/consistency checks it).
HTTP_ERRORS: dict[str, HttpError] = {
    "ValidationError": HttpError(400, "VALIDATION_ERROR", "the request is invalid"),
    "InsufficientFundsError": HttpError(
        422, "INSUFFICIENT_FUNDS", "the available balance is lower than the amount"
    ),
    "IdempotencyKeyReusedError": HttpError(
        422, "IDEMPOTENCY_KEY_REUSED", "Idempotent-Key was already used for a different transaction"
    ),
    # One code for a reversal's transaction and a hold's capture or void: the message names both.
    "NotFoundError": HttpError(
        404, "NOT_FOUND", "no transaction or hold with this id for this user"
    ),
    "NotReversibleError": HttpError(422, "NOT_REVERSIBLE", "this transaction cannot be reversed"),
    "UserBusyError": HttpError(
        429,
        "USER_BUSY",
        "another transaction of this user is in progress; retry later",
        {"Retry-After": "1"},
    ),
    # The hold templates pass this one's message through: it names the hold's status.
    "HoldNotPendingError": HttpError(409, "HOLD_NOT_PENDING", "the hold is no longer pending"),
    "HoldAmountExceededError": HttpError(
        422, "HOLD_AMOUNT_EXCEEDED", "the capture amount is more than the hold's amount"
    ),
    "TooManyHoldsError": HttpError(
        422, "TOO_MANY_HOLDS", "the user has too many pending holds; capture or void one first"
    ),
}
INTERNAL_ERROR = HttpError(500, "INTERNAL_ERROR", "the request could not be processed")


def http_error_for(error_name: str) -> HttpError:
    return HTTP_ERRORS.get(error_name, INTERNAL_ERROR)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}
