"""The hold steps with fakes and a controlled clock: placing, capturing, voiding, expiry at the
very millisecond of expiresAt (no request and no write in between), and their requests."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from msgspec.structs import replace

from functions.domain import holds
from functions.domain.errors import (
    HoldAmountExceededError,
    HoldNotPendingError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    NotFoundError,
    TooManyHoldsError,
    ValidationError,
)
from functions.domain.models import (
    AccountState,
    Hold,
    HoldCommand,
    HoldOperation,
    HoldStatus,
    LedgerEntry,
    PendingHold,
    StoredPlacement,
    TransactionType,
)
from functions.domain.requests import DEFAULT_HOLD_SECONDS, parse_hold_command
from tests.builders import FakeClock

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
EXPIRES_AT = NOW + timedelta(hours=1)


@dataclass
class FakeHoldCommits:
    """The unit of work's hold writes in memory; `stored` is what the key's record holds."""

    stored: StoredPlacement | None = None
    placed: list[tuple[Hold, list[PendingHold]]] = field(default_factory=list)
    captured: list[tuple[Hold, LedgerEntry, list[PendingHold]]] = field(default_factory=list)
    voided: list[tuple[Hold, list[PendingHold]]] = field(default_factory=list)

    def place_hold(self, hold, command_fingerprint, placed, seen, holds_after, owner, now):
        if self.stored is not None:
            return self.stored
        self.placed.append((hold, list(holds_after)))
        return None

    def capture_hold(self, captured, entry, seen, holds_after, owner, now):
        self.captured.append((captured, entry, list(holds_after)))

    def void_hold(self, voided, seen, holds_after, owner, now):
        self.voided.append((voided, list(holds_after)))


@dataclass
class FakeHolds:
    stored: dict[str, Hold] = field(default_factory=dict)
    placement: StoredPlacement | None = None

    def find_hold(self, user_id: str, hold_id: str) -> Hold | None:
        hold = self.stored.get(hold_id)
        return hold if hold and hold.user_id == user_id else None

    def find_placement(self, user_id: str, key: str) -> StoredPlacement | None:
        return self.placement


def place(amount: str = "30", expires_in: int = 3600, key: str = "k1") -> HoldCommand:
    return HoldCommand(HoldOperation.PLACE, "u", None, key, Decimal(amount), expires_in)


def change(operation: HoldOperation, hold_id: str = "h", amount: str | None = None):
    return HoldCommand(operation, "u", hold_id, None, None if amount is None else Decimal(amount))


def stored_hold(status: HoldStatus = HoldStatus.PENDING, expires_at: datetime = EXPIRES_AT,
                amount: str = "30") -> Hold:  # fmt: skip
    return Hold("h", "u", Decimal(amount), "USD", status, "2026-12-07T08:00:00.000Z", expires_at,
                "k1")  # fmt: skip


def seen_with(*pending: PendingHold, balance: str = "100", sequence: int = 2) -> AccountState:
    return AccountState(Decimal(balance), sequence, pending)


# Placing.


def test_place_reserves_the_amount_and_answers_available():
    commits = FakeHoldCommits()
    outcome = holds.place_hold(
        commits, FakeHolds(), place("30"), seen_with(), "exec-1", "USD", FakeClock(NOW)
    )
    [(hold, holds_after)] = commits.placed
    assert outcome.replayed is False
    assert outcome.body == {
        "holdId": hold.hold_id, "userId": "u", "amount": "30.00", "currency": "USD",
        "status": "pending", "available": "70.00", "createdAt": "2026-12-07T09:00:00.000Z",
        "expiresAt": "2026-12-07T10:00:00.000Z",
    }  # fmt: skip
    assert holds_after == [PendingHold(hold.hold_id, Decimal("30"), EXPIRES_AT)]


def test_place_drops_the_expired_holds_from_the_row_and_keeps_the_others():
    expired = PendingHold("old", Decimal("50"), NOW)
    counting = PendingHold("live", Decimal("10"), NOW + MS)
    commits = FakeHoldCommits()
    outcome = holds.place_hold(
        commits, FakeHolds(), place("90"), seen_with(expired, counting), "e", "USD",
        FakeClock(NOW),
    )  # fmt: skip
    [(hold, holds_after)] = commits.placed
    assert [h.hold_id for h in holds_after] == ["live", hold.hold_id]
    assert outcome.body["available"] == "0.00"


def test_a_hold_beyond_available_is_refused_and_nothing_is_written():
    commits = FakeHoldCommits()
    seen = seen_with(PendingHold("a", Decimal("80"), EXPIRES_AT))
    with pytest.raises(InsufficientFundsError):
        holds.place_hold(commits, FakeHolds(), place("20.01"), seen, "e", "USD", FakeClock(NOW))
    assert commits.placed == []


def pending_holds(count: int, expires_at: datetime = EXPIRES_AT) -> list[PendingHold]:
    return [PendingHold(f"p{i}", Decimal("0.01"), expires_at) for i in range(count)]


def test_a_hold_beyond_the_users_limit_of_pending_holds_is_refused_and_nothing_is_written():
    commits = FakeHoldCommits()
    full = seen_with(*pending_holds(holds.MAX_PENDING_HOLDS))
    with pytest.raises(TooManyHoldsError):
        holds.place_hold(commits, FakeHolds(), place("1"), full, "e", "USD", FakeClock(NOW))
    assert commits.placed == []


def test_the_last_hold_within_the_limit_is_placed_and_expired_holds_do_not_count():
    below = seen_with(*pending_holds(holds.MAX_PENDING_HOLDS - 1))
    commits = FakeHoldCommits()
    holds.place_hold(commits, FakeHolds(), place("1"), below, "e", "USD", FakeClock(NOW))
    assert len(commits.placed[0][1]) == holds.MAX_PENDING_HOLDS

    expired = pending_holds(holds.MAX_PENDING_HOLDS, expires_at=NOW)
    commits = FakeHoldCommits()
    holds.place_hold(commits, FakeHolds(), place("1"), seen_with(*expired), "e", "USD",
                     FakeClock(NOW))  # fmt: skip
    assert len(commits.placed[0][1]) == 1


def test_a_replay_is_answered_even_once_the_user_has_reached_the_limit():
    first = holds.place_hold(
        FakeHoldCommits(), FakeHolds(), place("1"), seen_with(), "exec-1", "USD", FakeClock(NOW)
    )
    reads = FakeHolds(placement=StoredPlacement(place("1").fingerprint, first.body))
    full = seen_with(*pending_holds(holds.MAX_PENDING_HOLDS))
    again = holds.place_hold(FakeHoldCommits(), reads, place("1"), full, "exec-2", "USD",
                             FakeClock(NOW))  # fmt: skip
    assert (again.body, again.replayed) == (first.body, True)


def test_a_hold_counts_until_the_millisecond_before_its_expiry_with_no_write_in_between():
    seen = seen_with(PendingHold("a", Decimal("80"), EXPIRES_AT))
    with pytest.raises(InsufficientFundsError):
        holds.place_hold(
            FakeHoldCommits(), FakeHolds(), place("21"), seen, "e", "USD",
            FakeClock(EXPIRES_AT - MS),
        )  # fmt: skip
    outcome = holds.place_hold(
        FakeHoldCommits(), FakeHolds(), place("21"), seen, "e", "USD", FakeClock(EXPIRES_AT)
    )
    assert outcome.body["available"] == "79.00"


def test_the_same_key_and_payload_replays_the_first_answer():
    first = holds.place_hold(
        FakeHoldCommits(), FakeHolds(), place(), seen_with(), "exec-1", "USD", FakeClock(NOW)
    )
    stored = StoredPlacement(place().fingerprint, first.body)
    again = holds.place_hold(
        FakeHoldCommits(stored), FakeHolds(), place(), seen_with(), "exec-2", "USD",
        FakeClock(NOW + timedelta(minutes=5)),
    )  # fmt: skip
    assert (again.body, again.replayed) == (first.body, True)


def test_a_replay_is_answered_even_once_available_no_longer_covers_it():
    first = holds.place_hold(
        FakeHoldCommits(), FakeHolds(), place("30"), seen_with(), "exec-1", "USD", FakeClock(NOW)
    )
    reads = FakeHolds(placement=StoredPlacement(place("30").fingerprint, first.body))
    spent = seen_with(PendingHold(first.body["holdId"], Decimal("30"), EXPIRES_AT), balance="40")
    again = holds.place_hold(
        FakeHoldCommits(), reads, place("30"), spent, "exec-2", "USD", FakeClock(NOW)
    )
    assert (again.body, again.replayed) == (first.body, True)


def test_the_executions_own_retried_write_is_no_replay():
    first = holds.place_hold(
        FakeHoldCommits(), FakeHolds(), place(), seen_with(), "exec-1", "USD", FakeClock(NOW)
    )
    retried = holds.place_hold(
        FakeHoldCommits(StoredPlacement(place().fingerprint, first.body)), FakeHolds(), place(),
        seen_with(), "exec-1", "USD", FakeClock(NOW),
    )  # fmt: skip
    assert retried.replayed is False


@pytest.mark.parametrize(
    "stored",
    [StoredPlacement(place("31").fingerprint, {"holdId": "x"}),
     StoredPlacement(place().fingerprint, None)],
    ids=["another-hold", "a-transaction-or-transfer"],
)  # fmt: skip
def test_a_key_used_for_another_payload_is_reused(stored):
    with pytest.raises(IdempotencyKeyReusedError):
        holds.place_hold(
            FakeHoldCommits(stored), FakeHolds(), place(), seen_with(), "e", "USD",
            FakeClock(NOW),
        )  # fmt: skip


def test_a_default_lifetime_and_an_explicit_one_of_the_same_length_are_one_payload():
    assert (
        place(expires_in=DEFAULT_HOLD_SECONDS).fingerprint
        == (
            parse_hold_command("place", json.dumps({"userId": "u", "amount": "30"}), "k1", "")
        ).fingerprint
    )


# Capturing.


def capture(hold: Hold, amount: str | None = None, seen: AccountState | None = None,
            at: datetime = NOW, owner: str = "exec-9"):  # fmt: skip
    commits = FakeHoldCommits()
    seen = seen or seen_with(hold.pending, PendingHold("other", Decimal("5"), EXPIRES_AT))
    outcome = holds.capture_hold(
        commits, FakeHolds({hold.hold_id: hold}), change(HoldOperation.CAPTURE, amount=amount),
        seen, owner, "USD", FakeClock(at),
    )  # fmt: skip
    return outcome, commits


def test_a_capture_debits_its_amount_releases_the_rest_and_names_the_hold():
    outcome, commits = capture(stored_hold(), "20")
    [(captured, entry, holds_after)] = commits.captured
    assert (entry.type, entry.amount, entry.balance_after, entry.sequence) == (
        TransactionType.DEBIT, Decimal("20"), Decimal("80"), 3)  # fmt: skip
    assert (entry.hold_id, entry.idempotency_key, entry.entry_id) == (
        "h", "k1", holds.capture_entry_id("h"))  # fmt: skip
    assert [h.hold_id for h in holds_after] == ["other"]
    assert captured.status is HoldStatus.CAPTURED and captured.captured_amount == Decimal("20")
    assert outcome.body == {
        "holdId": "h", "userId": "u", "status": "captured", "amount": "30.00",
        "capturedAmount": "20.00", "transactionId": entry.entry_id, "balance": "80.00",
        "available": "75.00", "currency": "USD",
    }  # fmt: skip


def test_a_capture_without_an_amount_takes_the_whole_hold():
    _, commits = capture(stored_hold())
    assert commits.captured[0][1].amount == Decimal("30")


def test_a_capture_above_the_hold_is_refused():
    with pytest.raises(HoldAmountExceededError):
        capture(stored_hold(), "30.01")


def test_a_hold_can_be_captured_a_millisecond_before_its_expiry_and_not_at_it():
    _, commits = capture(stored_hold(), at=EXPIRES_AT - MS)
    assert len(commits.captured) == 1
    with pytest.raises(HoldNotPendingError, match="the hold is expired"):
        capture(stored_hold(), at=EXPIRES_AT)


def test_capturing_a_voided_hold_is_not_pending_naming_its_status():
    with pytest.raises(HoldNotPendingError, match="the hold is voided"):
        capture(replace(stored_hold(HoldStatus.VOIDED), available_after=Decimal(100)))


def test_a_captured_hold_answers_its_first_capture_whatever_amount_is_asked():
    first, commits = capture(stored_hold(), "20")
    [(captured, _, _)] = commits.captured
    again, more = capture(captured, "25", owner="exec-10")
    assert (again.body, again.replayed, more.captured) == (first.body, True, [])
    own, _ = capture(captured, owner="exec-9")
    assert own.replayed is False  # the capturing execution's own retried step


def test_a_capture_of_no_hold_or_another_users_is_not_found():
    with pytest.raises(NotFoundError):
        capture(replace(stored_hold(), user_id="someone-else"))


# Voiding.


def void(hold: Hold, at: datetime = NOW, owner: str = "exec-9"):
    commits = FakeHoldCommits()
    outcome = holds.void_hold(
        commits, FakeHolds({hold.hold_id: hold}), change(HoldOperation.VOID),
        seen_with(hold.pending), owner, FakeClock(at),
    )  # fmt: skip
    return outcome, commits


def test_a_void_releases_the_hold():
    outcome, commits = void(stored_hold())
    [(voided, holds_after)] = commits.voided
    assert (voided.status, holds_after) == (HoldStatus.VOIDED, [])
    assert outcome.body == {"holdId": "h", "userId": "u", "status": "voided", "amount": "30.00",
                            "available": "100.00", "currency": "USD"}  # fmt: skip
    again, more = void(voided, owner="exec-10")
    assert (again.body, again.replayed, more.voided) == (outcome.body, True, [])


@pytest.mark.parametrize(
    ("hold", "at", "status"),
    [(replace(stored_hold(HoldStatus.CAPTURED), captured_amount=Decimal(1), transaction_id="t",
              balance_after=Decimal(99), available_after=Decimal(99)), NOW, "captured"),
     (stored_hold(), EXPIRES_AT, "expired")],
    ids=["captured", "expired"],
)  # fmt: skip
def test_voiding_a_hold_that_ended_otherwise_is_not_pending(hold, at, status):
    with pytest.raises(HoldNotPendingError, match=f"the hold is {status}"):
        void(hold, at)


# Reading.


def test_get_hold_reads_expired_from_its_expiry_on():
    reads = FakeHolds({"h": stored_hold()})
    assert holds.get_hold(reads, "u", "h", EXPIRES_AT - MS)["status"] == "pending"
    assert holds.get_hold(reads, "u", "h", EXPIRES_AT)["status"] == "expired"
    with pytest.raises(NotFoundError):
        holds.get_hold(reads, "u", "nope", NOW)


# The requests.


@pytest.mark.parametrize(
    ("body", "message"),
    [({"userId": "u"}, "amount is required"),
     ({"userId": "u", "amount": 30}, "amount must be a string"),
     ({"userId": "u", "amount": "30", "expiresInSeconds": 0}, "expiresInSeconds"),
     ({"userId": "u", "amount": "30", "expiresInSeconds": 2_592_001}, "expiresInSeconds"),
     ({"userId": "u", "amount": "30", "expiresInSeconds": "60"}, "expiresInSeconds"),
     ({"userId": "u", "amount": "30", "expiresInSeconds": 60.0}, "expiresInSeconds"),
     ({"userId": "u", "amount": "30", "expiresInSeconds": True}, "expiresInSeconds"),
     ({"amount": "30"}, "userId")],
    ids=["no-amount", "number-amount", "zero-seconds", "too-long", "string-seconds",
         "float-seconds", "bool-seconds", "no-user"],
)  # fmt: skip
def test_an_invalid_hold_request_names_the_field(body, message):
    with pytest.raises(ValidationError, match=message):
        parse_hold_command("place", json.dumps(body), "k1", "")


def test_a_hold_request_needs_a_key_and_takes_the_amount_alias():
    with pytest.raises(ValidationError, match="Idempotent-Key"):
        parse_hold_command("place", json.dumps({"userId": "u", "amount": "1"}), "", "")
    command = parse_hold_command(
        "place", json.dumps({"userId": "u", "ammount": "1", "expiresInSeconds": 1}), "k", ""
    )
    assert (command.amount, command.expires_in_seconds) == (Decimal(1), 1)


def test_a_capture_or_void_names_its_hold_and_the_capture_amount_is_optional():
    capture_all = parse_hold_command("capture", json.dumps({"userId": "u"}), "", "h-1")
    assert (capture_all.hold_id, capture_all.amount) == ("h-1", None)
    part = parse_hold_command("capture", json.dumps({"userId": "u", "amount": "2"}), "", "h-1")
    assert part.amount == Decimal(2)
    assert parse_hold_command("void", json.dumps({"userId": "u"}), "", "h-1").amount is None
    with pytest.raises(ValidationError, match="holdId"):
        parse_hold_command("void", json.dumps({"userId": "u"}), "", "h" * 129)
    with pytest.raises(ValidationError, match="operation"):
        parse_hold_command("refund", json.dumps({"userId": "u"}), "", "h-1")


def test_a_command_travels_between_steps_unchanged():
    for command in (place(), change(HoldOperation.CAPTURE, amount="2"),
                    change(HoldOperation.VOID)):  # fmt: skip
        assert HoldCommand.from_dict(command.to_dict()) == command
