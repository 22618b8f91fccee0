"""The system against the in-memory model of the contract, one request at a time (Hypothesis)."""

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.reliability.model import wallet_machine


def stateful_settings(examples: int, steps: int) -> settings:
    # Each step runs a whole execution (a fraction of a second), hence the small counts.
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,
        database=None,
        # Shrinking re-runs executions for minutes; the failing steps are printed unshrunk.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def test_system_behaves_as_the_model_of_the_contract(local_aws):
    run_state_machine_as_test(wallet_machine(local_aws), settings=stateful_settings(4, 10))


@pytest.mark.slow
def test_system_behaves_as_the_model_of_the_contract_longer(local_aws):
    run_state_machine_as_test(wallet_machine(local_aws), settings=stateful_settings(40, 25))
