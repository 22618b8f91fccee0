"""An execution that dies mid-way: busy until its lease runs out, then taken over; its key ends."""

import os

import pytest

from functions.settings import get_settings
from tests.reliability import crashes


@pytest.fixture
def short_lease(local_aws):
    """A lease longer than a request waits for the lock (about 8 s), so waiting stays short."""
    previous = os.environ["LOCK_LEASE_SECONDS"]
    os.environ["LOCK_LEASE_SECONDS"] = "15"
    get_settings.cache_clear()
    yield local_aws
    os.environ["LOCK_LEASE_SECONDS"] = previous
    get_settings.cache_clear()


@pytest.mark.parametrize("step", crashes.CRASH_POINTS)
def test_crashed_execution_is_taken_over_once_its_lease_runs_out(local_aws, step):
    assert crashes.run_crash(local_aws, step, real_lease=False) == []


@pytest.mark.slow
@pytest.mark.parametrize("step", crashes.CRASH_POINTS)
def test_crashed_execution_with_a_real_lease(short_lease, step):
    assert crashes.run_crash(short_lease, step, real_lease=True) == []
