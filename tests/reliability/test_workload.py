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
