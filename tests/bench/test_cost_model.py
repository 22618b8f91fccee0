"""The cost model's lines, each against a value computed by hand, and AWS's rounding rules."""

import dataclasses
import math

import pytest

from tests.bench import cost, deployment
from tests.bench.deployment import Consumer, Deployment, Sampling

GB = 1024**3
LOGS_PER_GB = 0.50
XRAY_PER_TRACE = 5.00 / 1e6
LAMBDA_GB_S = 0.0000133334

DEPLOYED = Deployment(
    lambda_memory_mb=256,
    log_format="Text",
    system_log_level="INFO",
    lambda_tracing=True,
    api_tracing=True,
    state_machine_tracing=True,
    access_log_format='{"requestId":"$context.requestId","status":"$context.status"}',
    consumers=(
        Consumer("ForwardEventsFunction", batch_size=10, window_seconds=0),
        Consumer("ProjectSummariesFunction", batch_size=100, window_seconds=0),
    ),
)
COMMITTED = {
    "lambdaTotal": 5,
    "billedLambdaMs": 22,
    "billedExpressMs": 100,
    "wru": 14,
    "rru": 0,
    "logBytes": 9000,
    "logBytesError": 0,
    "events": 1,
    "streamLambda": {"ForwardEventsFunction": 1, "ProjectSummariesFunction": 1},
    "streamLambdaTotal": 2,
    "streamMs": 18.2,
    "streamWru": 4,
    "streamRru": 1,
}


@pytest.mark.parametrize(
    ("ms", "billed"), [(0.2, 1), (1.0, 1), (1.0001, 2), (12.34, 13), (250.0, 250)]
)
def test_lambda_bills_each_invocation_by_the_millisecond_rounded_up(ms, billed):
    assert cost.billed_lambda_ms(ms) == billed


@pytest.mark.parametrize(
    ("ms", "billed"), [(1.0, 100), (100.0, 100), (100.1, 200), (250.0, 300), (6150.0, 6200)]
)
def test_express_bills_by_the_next_100_ms_and_100_ms_at_least(ms, billed):
    assert cost.billed_express_ms(ms) == billed


@pytest.mark.parametrize(("mb", "billed"), [(10, 64), (64, 64), (65, 128), (200, 256)])
def test_express_bills_memory_in_64_mb_chunks(mb, billed):
    assert cost.billed_express_memory_mb(mb) == billed


def test_the_traced_share_is_the_reservoir_then_five_percent():
    # One a second on average: E[min(N, 1)] = 1 - 1/e, the rest at 5%.
    assert cost.traced_share(1.0) == pytest.approx(0.05 + 0.95 * (1 - math.exp(-1)))
    assert cost.traced_share(1.0) == pytest.approx(0.6505, abs=1e-4)
    assert cost.traced_share(0.001) == pytest.approx(1.0, abs=1e-3)
    assert cost.traced_share(1000.0) == pytest.approx(0.05 + 0.95 / 1000, abs=1e-6)
    assert cost.traced_share(0) == 1.0


def test_a_sampling_rule_of_the_templates_own_is_its_reservoir_then_its_rate():
    # Reservoir 2 at one a second: E[min(N, 2)] = 2 - (2 P(0) + 1 P(1)) = 2 - 3/e.
    reserved = 2 - 3 / math.e
    assert cost.traced_share(1.0, 2, 0.05) == pytest.approx(reserved + 0.05 * (1 - reserved))
    assert cost.traced_share(0.38, 0, 0.01) == pytest.approx(0.01)
    assert cost.traced_share(0, 0, 0.01) == 0.01


def test_a_rule_in_the_template_sets_the_posts_traces_and_passthrough_consumers_start_none():
    sampled = dataclasses.replace(
        DEPLOYED,
        sampling=Sampling(reservoir=0, fixed_rate=0.05),
        consumers=tuple(dataclasses.replace(c, is_traced=False) for c in DEPLOYED.consumers),
    )

    lines = cost.per_million(COMMITTED, "ERROR", cost.Inputs(sampled))

    assert lines["xray"] == pytest.approx(0.05 * 5.00, abs=1e-3)
    assert lines["xrayStreamConsumers"] == 0
    floor = {r["line"]: r for r in cost.floor_per_million(cost.Inputs(sampled))["lines"]}
    assert floor["xray"]["usd"] == pytest.approx(0.25, abs=1e-3)


def test_a_consumer_without_window_gathers_a_quarter_second_of_records():
    forwarder = DEPLOYED.consumers[0]
    # 0.38 records a second, polled 4 times a second: a mean of 0.095 per poll, an invocation
    # only for a poll that found one.
    assert cost.records_per_invocation(0.38, forwarder) == pytest.approx(
        0.095 / (1 - math.exp(-0.095))
    )
    assert cost.records_per_invocation(0.38, forwarder) == pytest.approx(1.0483, abs=1e-4)
    assert cost.consumer_lag_seconds(forwarder) == 0.25


def test_a_batching_window_gathers_its_records_up_to_the_batch_size():
    windowed = Consumer("ProjectSummariesFunction", batch_size=100, window_seconds=60)
    small_batches = Consumer("ForwardEventsFunction", batch_size=10, window_seconds=60)

    assert cost.records_per_invocation(0.38, windowed) == pytest.approx(
        22.8 / (1 - math.exp(-22.8))
    )
    assert cost.records_per_invocation(0.38, small_batches) == 10
    assert cost.consumer_lag_seconds(windowed) == 60


def test_platform_lines_are_priced_as_lambda_writes_them():
    # START 71 + END 52 + REPORT 141 bytes, and the REPORT's XRAY line 93.
    assert cost.platform_log_bytes(DEPLOYED) == 71 + 52 + 141 + 93
    untraced = dataclasses.replace(DEPLOYED, lambda_tracing=False)
    assert cost.platform_log_bytes(untraced) == 71 + 52 + 141
    # JSON: platform.start 141 and platform.report 234, its tracing object 150.
    json_info = dataclasses.replace(DEPLOYED, log_format="JSON")
    assert cost.platform_log_bytes(json_info) == 141 + 234 + 150


def test_at_system_level_warn_json_logs_have_no_platform_lines_and_text_cannot_filter():
    json_warn = dataclasses.replace(DEPLOYED, log_format="JSON", system_log_level="WARN")
    text_warn = dataclasses.replace(DEPLOYED, system_log_level="WARN")

    assert cost.platform_log_bytes(json_warn) == 0
    assert cost.platform_log_bytes(text_warn) == cost.platform_log_bytes(DEPLOYED)


def test_the_access_log_line_is_its_format_with_each_variable_substituted():
    # {"requestId":"<36>","status":"201"}
    assert cost.access_log_bytes(DEPLOYED) == len('{"requestId":"","status":""}') + 36 + 3
    assert cost.access_log_bytes(dataclasses.replace(DEPLOYED, access_log_format=None)) == 0


def test_a_variable_with_no_sample_is_an_error_that_names_it():
    unknown = dataclasses.replace(DEPLOYED, access_log_format='{"a":"$context.authorizer.x"}')

    with pytest.raises(KeyError, match=r"authorizer\.x"):
        cost.access_log_bytes(unknown)


def test_the_templates_access_log_format_has_a_sample_of_every_variable():
    assert cost.access_log_bytes(deployment.load()) > 300


def test_a_post_starts_one_trace_when_the_api_or_the_state_machine_samples_it():
    inputs = cost.Inputs(DEPLOYED)
    share = cost.traced_share(inputs.requests_per_second)
    lambda_only = dataclasses.replace(DEPLOYED, api_tracing=False, state_machine_tracing=False)
    none = dataclasses.replace(lambda_only, lambda_tracing=False)

    assert cost.post_traces(5, inputs) == share
    assert cost.post_traces(5, cost.Inputs(lambda_only)) == 5 * share
    assert cost.post_traces(5, cost.Inputs(none)) == 0


def test_each_line_of_a_committed_transaction_against_its_hand_computed_value():
    inputs = cost.Inputs(DEPLOYED, monthly_transactions=1_000_000, init_ms=300.4)
    rate = 1_000_000 / (730 * 3600)
    share = 0.05 + 0.95 * (1 - math.exp(-rate)) / rate
    per_invocation = (rate / 4) / (1 - math.exp(-rate / 4))
    consumer_invocations = 2 / per_invocation
    consumer_share = 0.05 + 0.95 * (1 - math.exp(-rate / per_invocation)) / (rate / per_invocation)
    per_record_ms = 18.2 / 2

    lines = cost.per_million(COMMITTED, "ERROR", inputs)

    assert lines["apiGateway"] == 3.5
    assert lines["apiAccessLogs"] == pytest.approx(67 / GB * LOGS_PER_GB * 1e6, abs=1e-3)
    assert lines["stepFunctionsDuration"] == pytest.approx(
        0.0625 * 0.1 * 0.06 / 3600 * 1e6, abs=1e-3
    )
    assert lines["lambdaRequests"] == pytest.approx(1.0)
    assert lines["lambdaDuration"] == pytest.approx(0.25 * 0.022 * LAMBDA_GB_S * 1e6, abs=1e-3)
    # 1% of the 5 invocations pay a 301 ms INIT (300.4 rounded up).
    assert lines["lambdaInit"] == pytest.approx(
        5 * 0.01 * 0.25 * 0.301 * LAMBDA_GB_S * 1e6, abs=1e-3
    )
    assert lines["lambdaPlatformLogs"] == pytest.approx(5 * 357 / GB * LOGS_PER_GB * 1e6, abs=1e-3)
    assert lines["dynamodbWrites"] == pytest.approx(14 * 0.625)
    assert lines["logs"] == 0
    assert lines["xray"] == pytest.approx(share * 5.00, abs=1e-3)
    assert lines["streamConsumerRequests"] == pytest.approx(consumer_invocations * 0.2, abs=1e-3)
    assert lines["streamConsumerDuration"] == pytest.approx(
        consumer_invocations
        * math.ceil(per_record_ms * per_invocation)
        / 1000
        * 0.25
        * LAMBDA_GB_S
        * 1e6,
        abs=1e-3,
    )
    assert lines["streamConsumerPlatformLogs"] == pytest.approx(
        consumer_invocations * 357 / GB * LOGS_PER_GB * 1e6, abs=1e-3
    )
    assert lines["xrayStreamConsumers"] == pytest.approx(
        consumer_invocations * consumer_share * 5.00, abs=1e-3
    )
    assert lines["eventBridgeEvents"] == 1.0
    assert lines["summariesProjectionWrites"] == pytest.approx(4 * 0.625)
    assert lines["summariesProjectionReads"] == pytest.approx(0.125)
    assert lines["total"] == pytest.approx(
        sum(v for k, v in lines.items() if k != "total"), abs=0.01
    )


def test_without_a_measured_init_no_init_line_and_at_level_all_the_logs_count():
    lines = cost.per_million(COMMITTED, "ALL", cost.Inputs(DEPLOYED))

    assert lines["lambdaInit"] == 0
    assert lines["logs"] == pytest.approx(9000 / GB * LOGS_PER_GB * 1e6, abs=1e-3)


def test_the_floor_prices_the_invariants_and_the_deployments_lines_like_the_measured():
    inputs = cost.Inputs(DEPLOYED)
    floor = cost.floor_per_million(inputs)
    rows = {row["line"]: row for row in floor["lines"]}
    measured = cost.per_million(COMMITTED, "ERROR", inputs)

    assert rows["lambdaRequests"]["quantity"] == 3
    assert rows["putTransactionWrite"]["quantity"] == 4  # the fence and the record, 2 each
    assert rows["commitWrite"]["quantity"] == 6
    assert rows["projectionWrite"]["quantity"] == 4
    assert rows["streamConsumerRequests"]["usd"] == pytest.approx(
        measured["streamConsumerRequests"], abs=1e-3
    )
    assert rows["apiAccessLogs"]["usd"] == pytest.approx(measured["apiAccessLogs"], abs=1e-3)
    # 3 tasks and the consumers' invocations, each with Lambda's own lines.
    invocations = 3 + rows["streamConsumerRequests"]["quantity"]
    assert rows["lambdaPlatformLogs"]["quantity"] == pytest.approx(invocations * 357, abs=1e-3)
    assert rows["xray"]["usd"] == pytest.approx(
        measured["xray"] + measured["xrayStreamConsumers"], abs=1e-3
    )
    assert floor["total"] == pytest.approx(sum(r["usd"] for r in floor["lines"]), abs=0.01)
    observability = sum(rows[n]["usd"] for n in ("lambdaPlatformLogs", "apiAccessLogs", "xray"))
    assert floor["totalWithoutObservability"] == pytest.approx(
        floor["total"] - observability, abs=0.01
    )


def test_a_total_without_observability_leaves_out_the_log_lines_and_the_traces():
    lines = {"apiGateway": 3.5, "xray": 4.2, "logs": 9.0, "lambdaPlatformLogs": 0.8,
             "xrayStreamConsumers": 8.1, "dynamodbWrites": 8.75, "total": 34.35}  # fmt: skip

    assert cost.without_observability(lines) == 12.25


def test_the_floor_at_system_level_warn_has_no_platform_lines():
    quiet = dataclasses.replace(DEPLOYED, log_format="JSON", system_log_level="WARN")
    rows = {r["line"]: r for r in cost.floor_per_million(cost.Inputs(quiet))["lines"]}

    assert rows["lambdaPlatformLogs"]["usd"] == 0


TEMPLATE = """
Globals:
  Function:
    MemorySize: 512
    Tracing: PassThrough
    LoggingConfig:
      LogFormat: JSON
      SystemLogLevel: WARN
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      TracingEnabled: false
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Tracing:
        Enabled: true
  Rule:
    Type: AWS::XRay::SamplingRule
    Properties:
      SamplingRule:
        Priority: 100
        ReservoirSize: 0
        FixedRate: 0.01
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            BatchSize: 25
            MaximumBatchingWindowInSeconds: 30
"""


def test_the_deployment_is_read_from_the_template(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)

    read = deployment.load(path)

    assert read == Deployment(
        lambda_memory_mb=512,
        log_format="JSON",
        system_log_level="WARN",
        lambda_tracing=False,
        api_tracing=False,
        state_machine_tracing=True,
        access_log_format=None,
        consumers=(Consumer("Consumer", batch_size=25, window_seconds=30.0, is_traced=False),),
        sampling=Sampling(reservoir=0, fixed_rate=0.01),
    )
    assert read.has_platform_lines is False


def test_the_real_templates_consumers_and_defaults():
    read = deployment.load()

    assert {c.function for c in read.consumers} == {
        "ForwardEventsFunction",
        "ProjectSummariesFunction",
    }
    assert read.log_format in {"Text", "JSON"}
    assert read.access_log_format is not None
