"""The hold soak of `make reliability` at a size for make test: a couple of hundred holds,
captures, voids, debits and transfers on three hot users, 16 threads, a fault at every step of
the hold saga in turn."""

from tests.reliability import holds

SIZE = 200
FAULT_EVERY = 3  # so that the cycle of faults goes round at least once at this size


def test_holds_with_a_fault_at_every_step_keep_every_invariant(local_aws):
    figures = holds.run(local_aws, seed=29, count=SIZE, users=3, threads=16,
                        fault_every=FAULT_EVERY)  # fmt: skip

    print("\n".join(holds.summary(figures)))
    assert figures.problems == [], "\n".join(figures.problems[:30])
    assert figures.lowest_available >= 0
    assert figures.watched > 0
    assert figures.outcomes["place applied"] > SIZE // 12
    assert figures.outcomes["capture applied"] + figures.outcomes["partial applied"] > 0
    assert figures.outcomes["void applied"] > 0
    assert figures.holds["CAPTURED"] > 0 and figures.holds["VOIDED"] > 0
    assert set(figures.faults_armed) == {fault.name for fault in holds.FAULTS}
    assert {"AcquireHoldLock before", "PlaceHold after", "ReleaseLock before"} <= set(
        figures.faults_fired
    ), figures.faults_fired
    assert figures.server_errors > 0  # the faults were not all hidden by retries
    assert figures.longest_seconds < holds.NO_DEADLOCK_SECONDS


def test_the_hold_fault_cycle_names_every_step_of_the_saga_at_every_point():
    lambda_faults = {(f.step, f.point) for f in holds.FAULTS if f.step in holds.LAMBDA_STEPS}
    releases = {f.step for f in holds.FAULTS} - set(holds.LAMBDA_STEPS)

    assert len(lambda_faults) == len(holds.LAMBDA_STEPS) * 4
    assert releases == set(holds.RELEASES)
