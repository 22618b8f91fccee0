"""Each task function broken at each point: the invariants hold and a retry ends correctly."""

import pytest

from infra.local.awslambda.functions import FaultPoint
from tests.reliability import faults

QUICK_POINTS = [FaultPoint.BEFORE, FaultPoint.AFTER, FaultPoint.SERVICE_ERROR]
# A hang costs the function's whole timeout (4 s): three in make test, the rest in the soak.
QUICK_HANGS = ["UpdateBalance", "DeleteTransaction"]
SLOW_HANGS = [step for step in faults.FUNCTION_STEPS if step not in QUICK_HANGS]


def point_id(point) -> str:
    return point.value if isinstance(point, FaultPoint) else point


@pytest.mark.parametrize(
    ("step", "point"),
    [(step, point) for step in faults.STEPS for point in QUICK_POINTS
     if point in faults.points_of(step)],
    ids=lambda value: point_id(value) if isinstance(value, FaultPoint) else value,
)  # fmt: skip
def test_fault_keeps_the_invariants_and_the_retry_ends_correctly(local_aws, step, point):
    assert faults.run_case(local_aws, step, point) == []


@pytest.mark.parametrize("step", QUICK_HANGS)
def test_hanging_function_keeps_the_invariants(local_aws, step):
    assert faults.run_case(local_aws, step, FaultPoint.HANG) == []


@pytest.mark.slow
@pytest.mark.parametrize("step", SLOW_HANGS)
def test_hanging_function_keeps_the_invariants_slow(local_aws, step):
    assert faults.run_case(local_aws, step, FaultPoint.HANG) == []


def test_commit_stands_when_its_compensation_also_fails_and_the_retry_replays_it(local_aws):
    assert faults.run_double_fault(local_aws) == []


def test_expectations_cover_every_function_and_point():
    # A 500 never leaves money moved; only ReleaseLock's faults (after the commit) succeed.
    for step in faults.STEPS:
        for point in faults.points_of(step):
            want = faults.expected(step, point)
            assert (want.answer == "201 applied") is (want.balance == faults.DEBITED)


@pytest.mark.parametrize("point", QUICK_POINTS, ids=point_id)
def test_a_failing_forwarder_and_refused_entries_lose_no_event(local_aws, point):
    assert faults.run_forwarder_case(local_aws, point) == []


@pytest.mark.slow
def test_a_hanging_forwarder_loses_no_event(local_aws):
    assert faults.run_forwarder_case(local_aws, FaultPoint.HANG, times=1) == []
