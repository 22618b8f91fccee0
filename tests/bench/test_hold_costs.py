"""The holds section of the bench, on the embedded runtime: the units and invocations
docs/decisions.md states for placing, capturing and voiding a hold."""

from infra.local.runtime import LocalAws
from tests.bench.holds import hold_counts, table


def test_placing_capturing_and_voiding_cost_what_the_decision_says():
    with LocalAws() as aws:
        counts = hold_counts(aws)

    assert counts["itemKb"] == 1
    measured = [(counts[op]["wru"], counts[op]["rru"], counts[op]["lambdaInvocations"])
                for op in ("place", "capture", "void")]  # fmt: skip
    assert measured == [(8, 0, 2), (10, 1, 2), (6, 1, 2)]
    assert counts["place"]["transactItems"] == [{"Put": 2, "Update": 1}]
    assert counts["capture"]["transactItems"] == [{"Put": 2, "Update": 2}]
    assert counts["void"]["transactItems"] == [{"Update": 2}]
    assert (counts["capture"]["events"], counts["place"]["events"]) == (1, 0)
    assert counts["capture"]["usdPerMillionTotal"] > counts["void"]["usdPerMillionTotal"] > 0
    title, headers, rows = table(counts)
    assert title.startswith("Holds")
    assert [row[0] for row in rows] == ["place", "capture", "void"]
    assert len(headers) == len(rows[0])
