"""infra/local/awslambda/functions.py: metrics not published locally are not kept either."""

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from infra.local.awslambda.functions import LocalLambdas
from infra.local.cloudformation.template import FunctionSpec

metrics = Metrics(namespace="WalletTest")


@metrics.log_metrics
def committing_handler(event: dict, context: object) -> dict:
    metrics.add_metric(name="TransactionCommitted", unit=MetricUnit.Count, value=1)
    return {}


def local_function() -> LocalLambdas:
    spec = FunctionSpec(
        logical_id="CommittingFunction",
        handler=f"{__name__}.committing_handler",
        timeout_seconds=3,
        environment={},
    )
    return LocalLambdas({spec.logical_id: spec}, "us-east-1")


def test_150_invocations_with_metrics_disabled_print_nothing_and_keep_nothing(monkeypatch, capsys):
    # Powertools' flush keeps disabled metrics, and its add_metric prints the set at 100 values
    # whatever the setting: make run's standard output got an EMF blob every 100 commits.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    lambdas = local_function()

    for _ in range(150):
        assert lambdas.invoke("CommittingFunction", b"{}").function_error is None

    assert "CloudWatchMetrics" not in capsys.readouterr().out
    assert metrics.metric_set == {}


def test_published_metrics_are_printed_once_per_invocation_as_on_lambda(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    lambdas = local_function()

    for _ in range(3):
        lambdas.invoke("CommittingFunction", b"{}")

    assert capsys.readouterr().out.count("CloudWatchMetrics") == 3
