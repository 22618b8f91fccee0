"""POST /transactions/{transactionId}/reversal: the saga's step between taking and freeing the
user's lock (find the transaction or its reversal, append the reversing entry at most once)."""

from uuid import NAMESPACE_URL, uuid5

from functions.domain.clock import Clock, timestamp
from functions.domain.errors import NotFoundError, NotReversibleError
from functions.domain.models import (
    AccountState,
    LedgerEntry,
    ReversalOutcome,
    ReversalRequest,
    Transaction,
)
from functions.domain.ports import Entries, ReversalCommits, ReversalRecords


def reversal_entry_id(transaction_id: str) -> str:
    """The reversing entry's id, derived from the reversed one's, so a retried commit writes the
    same id again. Its seed differs from a compensation's ("reversal\\n..."), so the two kinds of
    reversing entry never share an id."""
    return str(uuid5(NAMESPACE_URL, f"reversal request\n{transaction_id}"))


def check_reversible(entry: LedgerEntry, reversed_by: LedgerEntry | None) -> None:
    """Only a transaction's own credit or debit, standing, can be reversed.

    Raises: NotReversibleError for a reversing entry (a reversal's or a compensation's), a
    transfer's entry, a hold's capture, or a commit its saga's compensation already undid.
    """
    if entry.reverses is not None:
        raise NotReversibleError("a reversing entry cannot be reversed")
    if entry.transfer_id is not None:
        raise NotReversibleError("a transfer's entry cannot be reversed")
    if entry.hold_id is not None:
        raise NotReversibleError("a hold's capture cannot be reversed")
    if reversed_by is not None:
        raise NotReversibleError("the transaction was undone when its request failed")


def reverse_transaction(
    records: ReversalRecords,
    entries: Entries,
    commits: ReversalCommits,
    request: ReversalRequest,
    seen: AccountState,
    owner: str,
    clock: Clock,
) -> ReversalOutcome:
    """Append the entry that reverses the user's transaction, with its event and the record
    that makes it the only one, in one atomic write; or find the reversal already committed.

    `replayed` is False for the execution that committed it (a retried step included).
    Raises: NotFoundError if the user's ledger has no such entry; NotReversibleError (see
    check_reversible); InsufficientFundsError (nothing written) if reversing a credit would take
    the balance or `available` below zero; LockLostError if this owner no longer holds the lock.
    """
    stored = records.find_reversal(request.user_id, request.transaction_id)
    if stored is None:
        entry, reversed_by = entries.find_entry(request.user_id, request.transaction_id)
        if entry is None:
            raise NotFoundError("no committed transaction with this id for this user")
        check_reversible(entry, reversed_by)
        now = clock.now()
        reversing = entry.reversing_entry(reversal_entry_id(entry.entry_id), timestamp(now), seen)
        if reversing.signed_amount < 0:
            # Reversing a credit takes money away: as a debit, up to `available` (invariant 11).
            seen.require_available(-reversing.signed_amount, now)
        stored = commits.commit_reversal(reversing, owner, seen.balance, now)
        if stored is None:
            return ReversalOutcome(_transaction(reversing), replayed=False)
    return ReversalOutcome(stored.transaction, replayed=stored.owner != owner)


def _transaction(entry: LedgerEntry) -> Transaction:
    return Transaction(
        transaction_id=entry.entry_id,
        user_id=entry.user_id,
        type=entry.type,
        amount=entry.amount,
        balance=entry.balance_after,
        currency=entry.currency,
        created_at=entry.created_at,
        reverses=entry.reverses,
    )
