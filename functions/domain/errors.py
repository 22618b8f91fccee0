"""Domain errors. A class name is the Step Functions error name; `code` is the contract's code."""


class WalletError(Exception):
    code = "INTERNAL_ERROR"


class ValidationError(WalletError):
    code = "VALIDATION_ERROR"


class InsufficientFundsError(WalletError):
    code = "INSUFFICIENT_FUNDS"


class IdempotencyKeyReusedError(WalletError):
    code = "IDEMPOTENCY_KEY_REUSED"


class NotFoundError(WalletError):
    """No such resource for this user: a transaction to reverse that is not in their ledger, or a
    hold to capture, void or read that they never placed."""

    code = "NOT_FOUND"


class NotReversibleError(WalletError):
    """The entry cannot be reversed: a reversal itself, a transfer's entry, a hold's capture, or
    a commit the saga's compensation already undid."""

    code = "NOT_REVERSIBLE"


class UserBusyError(WalletError):
    """Another execution holds the user's lock and its lease has not run out."""

    code = "USER_BUSY"


class LockLostError(WalletError):
    """The lock is no longer held by this execution (its lease ran out and was taken over)."""


class StorageThrottledError(WalletError):
    """DynamoDB throttled or conflicted on a request; safe to retry."""


class ProjectionGapError(WalletError):
    """A ledger entry reached a projection before the entries it follows (a gap in sequence)."""


class HoldNotPendingError(WalletError):
    """The hold was voided, captured or has expired; the message names which."""

    code = "HOLD_NOT_PENDING"


class HoldAmountExceededError(WalletError):
    """A capture asked for more than the hold's amount."""

    code = "HOLD_AMOUNT_EXCEEDED"


class TooManyHoldsError(WalletError):
    """The user already has as many pending holds as one user may (MAX_PENDING_HOLDS)."""

    code = "TOO_MANY_HOLDS"
