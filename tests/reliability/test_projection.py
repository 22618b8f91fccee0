"""The projection chaos of make reliability, short: exactly once whatever the stream does, and
the same oracle catching a consumer that adds without the sequence condition."""

from unittest import mock

from functions.handlers import project_summaries
from tests.integration.test_projection import NaiveRepository
from tests.reliability import projection


def test_the_projection_equals_the_ledger_after_crashes_redeliveries_and_a_rewind(local_aws):
    problems, figures = projection.run(local_aws, seed=7, operations=40)

    assert problems == []
    assert figures["consumer before"] + figures["consumer after"] > 0  # faults really fired
    assert figures["duplicated or replayed batches"] > 0
    assert figures["records rewound"] >= figures["201 applied"]


def test_the_same_run_fails_a_consumer_that_adds_without_the_sequence_condition(local_aws):
    naive = NaiveRepository(local_aws.dynamodb, "SummariesTable")
    with mock.patch.object(project_summaries.summaries, "repository", lambda settings: naive):
        problems, _ = projection.run(local_aws, seed=7, operations=40)

    assert any("summaries:" in line for line in problems), problems
