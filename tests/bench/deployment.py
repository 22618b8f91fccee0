"""What infra/template.yaml configures that a bill depends on, read from the template itself.

The cost model prices what the deployed stack would do: the functions' memory, log format and
system log level (LoggingConfig), who traces (Lambda's Tracing, API Gateway's TracingEnabled, the
state machine's Tracing), the API's access log line (AccessLogSetting's Format) and each stream
consumer's batching (BatchSize, MaximumBatchingWindowInSeconds). A change to any of them in the
template changes the bench's figures with no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"

# Lambda's defaults when LoggingConfig leaves them out (API_LoggingConfig.html): plain text, and
# system logs at INFO (START, END and REPORT for every invocation).
DEFAULT_LOG_FORMAT = "Text"
DEFAULT_SYSTEM_LOG_LEVEL = "INFO"


@dataclass(frozen=True)
class Consumer:
    """A stream consumer's event source mapping."""

    function: str  # the logical id, as the bench's invocation counts name it
    batch_size: int
    window_seconds: float  # MaximumBatchingWindowInSeconds; 0 when the template leaves it out
    is_traced: bool = True  # Tracing: Active (its own or the Globals'); PassThrough starts none


@dataclass(frozen=True)
class Sampling:
    """An X-Ray sampling rule: the first `reservoir` requests a second, then `fixed_rate`."""

    reservoir: int = 1
    fixed_rate: float = 0.05


@dataclass(frozen=True)
class Deployment:
    lambda_memory_mb: int
    log_format: str  # "Text" or "JSON"
    system_log_level: str  # "DEBUG", "INFO" or "WARN"; only JSON logs can be filtered
    lambda_tracing: bool  # Tracing: Active
    api_tracing: bool
    state_machine_tracing: bool
    access_log_format: str | None
    consumers: tuple[Consumer, ...]
    # What API Gateway and Step Functions sample by: the template's AWS::XRay::SamplingRule of
    # highest priority, else X-Ray's default rule. Lambda's own sampling of an invocation with no
    # trace header cannot be configured: it is the default rule.
    sampling: Sampling = Sampling()

    @property
    def has_platform_lines(self) -> bool:
        """Whether Lambda writes its START/END/REPORT lines: always in plain text; in JSON,
        unless the system log level is WARN (platform.start and platform.report are INFO)."""
        return not (self.log_format == "JSON" and self.system_log_level == "WARN")

    def to_dict(self) -> dict[str, Any]:
        return {
            "lambdaMemoryMb": self.lambda_memory_mb,
            "logFormat": self.log_format,
            "systemLogLevel": self.system_log_level,
            "platformLogLines": self.has_platform_lines,
            "lambdaTracing": self.lambda_tracing,
            "apiTracing": self.api_tracing,
            "stateMachineTracing": self.state_machine_tracing,
            "accessLog": self.access_log_format is not None,
            "sampling": {
                "reservoir": self.sampling.reservoir,
                "fixedRate": self.sampling.fixed_rate,
            },
            "consumers": {
                c.function: {
                    "batchSize": c.batch_size,
                    "windowSeconds": c.window_seconds,
                    "traced": c.is_traced,
                }
                for c in self.consumers
            },
        }


def _resources_of_type(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource.get("Properties", {})
        for name, resource in document["Resources"].items()
        if resource.get("Type") == kind
    }


def _is_active(value: Any) -> bool:
    return value is True or str(value) in {"Active", "true", "True"}


def load(template_path: Path = TEMPLATE_PATH) -> Deployment:
    document = cfn_yaml.load(str(template_path))
    globals_ = document.get("Globals", {}).get("Function", {})
    logging = globals_.get("LoggingConfig", {})
    functions = _resources_of_type(document, "AWS::Serverless::Function")
    [api] = _resources_of_type(document, "AWS::Serverless::Api").values()
    machines = _resources_of_type(document, "AWS::Serverless::StateMachine").values()
    consumers = []
    for name, properties in sorted(functions.items()):
        for event in properties.get("Events", {}).values():
            if event.get("Type") == "DynamoDB":
                source = event["Properties"]
                consumers.append(
                    Consumer(
                        function=name,
                        batch_size=int(source.get("BatchSize", 100)),
                        window_seconds=float(source.get("MaximumBatchingWindowInSeconds", 0)),
                        is_traced=_is_active(properties.get("Tracing", globals_.get("Tracing"))),
                    )
                )
    access = api.get("AccessLogSetting", {}).get("Format")
    rules = [
        properties["SamplingRule"]
        for properties in _resources_of_type(document, "AWS::XRay::SamplingRule").values()
        if "SamplingRule" in properties
    ]
    sampling = Sampling()
    if rules:
        rule = min(rules, key=lambda r: int(r.get("Priority", 10000)))
        sampling = Sampling(int(rule["ReservoirSize"]), float(rule["FixedRate"]))
    return Deployment(
        lambda_memory_mb=int(globals_.get("MemorySize", 128)),
        log_format=str(logging.get("LogFormat", DEFAULT_LOG_FORMAT)),
        system_log_level=str(logging.get("SystemLogLevel", DEFAULT_SYSTEM_LOG_LEVEL)),
        lambda_tracing=_is_active(globals_.get("Tracing")),
        api_tracing=_is_active(api.get("TracingEnabled")),
        # Every machine of the stack is traced alike (a consistency test holds them to it).
        state_machine_tracing=all(
            _is_active(machine.get("Tracing", {}).get("Enabled")) for machine in machines
        ),
        access_log_format=None if access is None else " ".join(str(access).split()),
        consumers=tuple(consumers),
        sampling=sampling,
    )
