"""The transfer soak of `make reliability` at a size for make test: a few hundred transfers among
four users in both directions, 16 threads, a fault at every step of the saga in turn."""

from tests.reliability import transfers

SIZE = 240
FAULT_EVERY = 4  # so that the cycle of faults goes round at least once at this size


def test_transfers_with_a_fault_at_every_step_keep_every_invariant(local_aws):
    figures = transfers.run(
        local_aws, seed=23, count=SIZE, users=4, threads=16, fault_every=FAULT_EVERY
    )

    assert figures.problems == [], "\n".join(figures.problems[:30])
    assert figures.outcomes["201 applied"] > SIZE // 4
    assert set(figures.faults_armed) == {fault.name for fault in transfers.FAULTS}
    # Among the faults that showed: a crash after the commit, and each release failing before
    # its write, after the commit and after a failure.
    assert {
        "CommitTransfer after",
        "ReleaseFirstLock before",
        "ReleaseSecondLock before",
        "ReleaseFirstLockAfterFailure before",
        "ReleaseSecondLockAfterFailure before",
    } <= set(figures.faults_fired), figures.faults_fired
    assert figures.server_errors > 0  # the faults were not all hidden by retries
    assert figures.longest_seconds < transfers.NO_DEADLOCK_SECONDS


def test_the_fault_cycle_names_every_step_of_the_saga_at_every_point():
    steps = transfers.LAMBDA_STEPS
    lambda_faults = {(f.step, f.point) for f in transfers.FAULTS if f.step in steps}
    releases = {f.step for f in transfers.FAULTS} - set(transfers.LAMBDA_STEPS)

    assert len(lambda_faults) == len(transfers.LAMBDA_STEPS) * 4
    assert releases == set(transfers.RELEASES)
