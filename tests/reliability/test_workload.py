"""A seeded random workload from 16 threads; every invariant and every answer checked after."""

import pytest

from tests.reliability import workload

THREADS = 16
EVERY_KIND = {"credit", "debit", "replay", "reuse", "invalid", "balance"}


def run_and_check(aws, ops):
    transport = workload.Embedded(aws)
    records = workload.run(transport, ops, THREADS)
    settled = workload.settle(aws, transport, records, faults_injected=False)
    all_records = records + settled.records
    assert {op.kind for op in ops} == EVERY_KIND  # the seed exercises every kind of check
    assert workload.outcomes(all_records)["201 applied"] > 0
    return settled.problems + workload.check(aws, all_records, faults_injected=False)


def test_random_workload_keeps_every_invariant_and_answer_consistent(local_aws):
    ops = workload.generate(seed=1, count=32, users=4, hot_share=0.35)

    assert run_and_check(local_aws, ops) == []


@pytest.mark.usefixtures("forced_switching")
def test_random_workload_under_forced_thread_switching(local_aws):
    ops = workload.generate(seed=1, count=THREADS, users=2, hot_share=0.5)

    assert run_and_check(local_aws, ops) == []


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_larger_random_workload(local_aws, seed):
    ops = workload.generate(seed=seed, count=400, users=24)

    assert run_and_check(local_aws, ops) == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [({"userId": "u2", "balance": "100.00", "available": "100.00", "currency": "USD"},
      "answered for 'u2'"),
     ({"userId": "u1", "balance": "397.18", "available": "397.18", "currency": "USD"},
      "397.18 was never its balance")],
    ids=["another-users-answer", "a-balance-it-never-had"],
)  # fmt: skip
def test_a_balance_read_is_checked_against_its_user(local_aws, answer, problem):
    read = workload.Record(workload.Operation(0, "balance", "u1"), 0, balance=(200, answer))

    problems = workload.check(local_aws, [read], faults_injected=False)

    assert [line for line in problems if "GET balance" in line] == [
        f"GET balance of 'u1': {problem}"
    ]
