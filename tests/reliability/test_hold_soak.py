"""The hold soak of `make reliability` at a size for make test: a couple of hundred holds,
captures, voids, debits and transfers on three hot users, 16 threads, a fault at every step of
the hold saga in turn."""

from decimal import Decimal

from tests.builders import hold_input
from tests.reliability import holds
from tests.reliability.runtime import Answer

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
    # Every Lambda step of the saga broke at least once, and the release failed before its write.
    fired = {name.split()[0] for name in figures.faults_fired} | set(figures.faults_fired)
    assert {*holds.LAMBDA_STEPS, "ReleaseLock before"} <= fired, figures.faults_fired
    assert figures.server_errors > 0  # the faults were not all hidden by retries
    assert figures.longest_seconds < holds.NO_DEADLOCK_SECONDS


def test_the_hold_fault_cycle_names_every_step_of_the_saga_at_every_point():
    lambda_faults = {(f.step, f.point) for f in holds.FAULTS if f.step in holds.LAMBDA_STEPS}
    releases = {f.step for f in holds.FAULTS} - set(holds.LAMBDA_STEPS)

    assert len(lambda_faults) == len(holds.LAMBDA_STEPS) * 4
    assert releases == set(holds.RELEASES)


def answered(op, hold, *, replayed=False, arn="arn:run"):
    return holds.Record(op, holds.MACHINE, hold_input("place", {}, key=op.key),
                        Answer("SUCCEEDED", None, {"hold": hold, "replayed": replayed}, arn),
                        0.1, hold_id=hold["holdId"])  # fmt: skip


def test_the_soak_check_reports_a_hold_ended_twice_a_capture_above_it_and_a_stray_5xx(local_aws):
    op = holds.Operation(0, holds.CAPTURE, "u", "v", "k", Decimal(1), 3600, 0.0)
    captured = {"holdId": "H", "status": "captured", "amount": "5.00", "capturedAmount": "6.00"}
    voided = {"holdId": "H", "status": "voided", "amount": "5.00"}
    placed = {"holdId": "P", "status": "pending", "amount": "5.00"}
    records = [
        answered(op, captured),
        answered(op, captured),
        answered(op, voided),
        answered(op, placed),
        answered(op, {**placed, "holdId": "Q"}),
        holds.Record(
            op, holds.MACHINE, "{}", Answer("FAILED", "States.Runtime", None, "arn:x"), 0.1
        ),
        holds.Record(
            op, holds.MACHINE, "{}", Answer("FAILED", "InjectedFaultError", None, "arn:f"), 25.0
        ),
    ]
    figures = holds.Figures(lowest_available=Decimal("-0.01"))

    problems = holds.check(local_aws, ["u", "v"], records, {"arn:f"}, figures)

    assert "available observed at -0.01" in problems
    assert "hold H ended {'captured': 2, 'voided': 1}" in problems
    assert sum("captured 6.00 of 5.00" in line for line in problems) == 2
    assert "key 'k' placed ['P', 'Q'], 2 applied" in problems
    assert sum("with no fault injected" in line for line in problems) == 1  # arn:f had one
    assert sum("took 25.0 s" in line for line in problems) == 1
    assert figures.server_errors == 2
