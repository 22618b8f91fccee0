"""The read side's use cases with fakes: the summaries snapshot, the consumer, the rebuild."""

from datetime import UTC, datetime

import pytest

from functions.domain.queries import (
    StreamRecord,
    get_summaries,
    project_entries,
    rebuild_summaries,
)
from functions.domain.summaries import ProjectedState, parse_summary_query, summarize
from tests.builders import FakeLedger, ledger_entry

NOW = datetime(2026, 12, 2, tzinfo=UTC)


class FakeProjection:
    """A projection in memory; `writes_between` lets the consumer move on between two reads."""

    def __init__(self, state=None, writes_between=()):
        self.states = {"u": state or ProjectedState(0, {})}
        self.writes_between = list(writes_between)
        self.replaced = []
        self.refuse_replace = 0

    def applied_sequence(self, user_id):
        return self.states[user_id].last_sequence

    def summaries(self, user_id, period, first, last):
        state = self.states[user_id]
        if self.writes_between:
            self.states[user_id] = state = self.writes_between.pop(0)
        return [s for (p, start), s in sorted(state.summaries.items(), key=lambda kv: kv[0][1])
                if p is period and first <= start <= last]  # fmt: skip

    def state_of(self, user_id):
        return self.states.get(user_id, ProjectedState(0, {}))

    def user_ids(self):
        return set(self.states)

    def replace(self, user_id, expected, found):
        if self.refuse_replace:
            self.refuse_replace -= 1
            return False
        self.replaced.append(user_id)
        self.states[user_id] = expected
        return True

    def apply(self, entry):
        state = self.states.get(entry.user_id, ProjectedState(0, {}))
        if entry.sequence <= state.last_sequence:
            return False
        if entry.sequence != state.last_sequence + 1:
            raise RuntimeError("gap")
        return True


QUERY = parse_summary_query("u", "day", "2026-12-01T00:00:00Z", None, NOW)


def test_the_answer_is_one_snapshot_even_when_the_consumer_writes_between_the_reads():
    two, three = summarize([ledger_entry("u", n) for n in (1, 2)]), summarize(
        [ledger_entry("u", n) for n in (1, 2, 3)])  # fmt: skip
    # The progress says 2, then entry 3 lands before the periods are read.
    projection = FakeProjection(two, writes_between=[three])

    page = get_summaries(projection, QUERY)

    assert page.as_of_sequence == 3
    assert page.summaries[0].count == 3


def test_a_consumer_racing_every_read_leaves_a_lower_bound():
    states = [summarize([ledger_entry("u", n) for n in range(1, k + 1)]) for k in range(1, 6)]
    projection = FakeProjection(states[0], writes_between=states[1:])

    page = get_summaries(projection, QUERY)

    assert page.as_of_sequence <= page.summaries[0].last_sequence


def records(entries):
    return [StreamRecord(f"r{e.sequence}", {"entry": e}) for e in entries]


def test_the_consumer_counts_what_it_applied_and_skipped():
    projection = FakeProjection(summarize([ledger_entry("u", 1)]))
    entries = [ledger_entry("u", n) for n in (1, 2)]

    outcome = project_entries(projection, [*records(entries), StreamRecord("r9", None)],
                              lambda image: image["entry"])  # fmt: skip

    assert (outcome.applied, outcome.duplicates, outcome.skipped) == (1, 1, 1)
    assert outcome.batch_response() == {"batchItemFailures": []}


def test_the_consumer_stops_at_the_first_failure():
    projection = FakeProjection()
    entries = [ledger_entry("u", n) for n in (1, 3, 2)]

    outcome = project_entries(projection, records(entries), lambda image: image["entry"])

    assert outcome.failed_record == "r3" and outcome.error == "RuntimeError: gap"
    assert outcome.applied == 1  # 2 came after the failure and was not tried
    assert outcome.batch_response() == {"batchItemFailures": [{"itemIdentifier": "r3"}]}


def test_the_rebuild_reports_and_repairs_only_what_differs():
    entries = [ledger_entry("u", n) for n in (1, 2, 3)] + [ledger_entry("v", 1)]
    projection = FakeProjection(summarize(entries[:2]))
    projection.states["v"] = summarize(entries[3:])

    checked = rebuild_summaries(FakeLedger(entries), projection, repair=False)
    repaired = rebuild_summaries(FakeLedger(entries), projection, repair=True)
    again = rebuild_summaries(FakeLedger(entries), projection, repair=False)

    assert list(checked.differing) == ["u"] and checked.repaired == 0
    assert checked.differing["u"][0] == "asOfSequence 2, the ledger's last is 3"
    assert (list(repaired.differing), repaired.repaired, projection.replaced) == (["u"], 1, ["u"])
    assert again.differing == {} and again.users == 2


def test_the_rebuild_reads_a_user_again_when_the_consumer_moved_on():
    entries = [ledger_entry("u", n) for n in (1, 2)]
    projection = FakeProjection()
    projection.refuse_replace = 1

    report = rebuild_summaries(FakeLedger(entries), projection, repair=True)

    assert (report.repaired, report.retries) == (1, 1)


def test_the_rebuild_gives_up_on_a_user_that_never_settles():
    projection = FakeProjection()
    projection.refuse_replace = 99

    with pytest.raises(RuntimeError, match="'u' kept changing"):
        rebuild_summaries(FakeLedger([ledger_entry("u", 1)]), projection, repair=True)
