"""Reads the SAM template, the one description of the functions, tables and state machine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

INFRA_DIR = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = INFRA_DIR / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"  # where the runtime creates everything
# What `${AWS::StackName}` is locally (a deployed stack's name is `make deploy`'s STACK_NAME).
LOCAL_STACK_NAME = "local"


@dataclass(frozen=True)
class StreamSource:
    """A function's DynamoDB stream event source (SAM `Events` of Type DynamoDB): what an
    event source mapping reads, how it batches, retries and gives up."""

    name: str
    function: str  # the function's logical id
    table: str  # the logical id of the table whose stream it reads
    starting_position: str  # TRIM_HORIZON or LATEST
    batch_size: int
    bisect_on_error: bool
    maximum_retry_attempts: int  # -1: until the record expires
    report_batch_item_failures: bool
    on_failure_queue: str | None  # the logical id of the SQS queue, if any
    filter_patterns: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # "functions.handlers.acquire_lock.lambda_handler"
    timeout_seconds: int
    environment: dict[str, str]
    stream_sources: tuple[StreamSource, ...] = ()

    def arn(self, region: str) -> str:
        return function_arn(self.logical_id, region)


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    properties: dict[str, Any]

    @property
    def time_to_live_attribute(self) -> str | None:
        """The attribute DynamoDB expires items by, when the table enables TTL."""
        spec = self.properties.get("TimeToLiveSpecification", {})
        return spec.get("AttributeName") if spec.get("Enabled") else None

    def create_table_request(self) -> dict[str, Any]:
        """The CreateTable parameters of this table, named after its logical id (as `!Ref` is)."""
        wanted = ("AttributeDefinitions", "KeySchema", "BillingMode", "StreamSpecification")
        request = {key: self.properties[key] for key in wanted if key in self.properties}
        if "StreamSpecification" in request:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                **request["StreamSpecification"],
            }
        return {"TableName": self.logical_id, **request}


@dataclass(frozen=True)
class StateMachineLogging:
    """A state machine's `Logging` (SAM; `LoggingConfiguration` in CloudFormation's own type)."""

    level: str  # ALL, ERROR, FATAL or OFF
    include_execution_data: bool
    log_group_arn: str  # arn:aws:logs:<region>:<account>:log-group:<name>:*

    @property
    def log_group_name(self) -> str:
        return self.log_group_arn.split(":log-group:", 1)[1].removesuffix(":*")

    @property
    def configuration(self) -> dict[str, Any]:
        """As CreateStateMachine's `loggingConfiguration` takes it."""
        return {
            "level": self.level,
            "includeExecutionData": self.include_execution_data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": self.log_group_arn}}],
        }


@dataclass(frozen=True)
class StateMachineSpec:
    """An `AWS::Serverless::StateMachine`: created locally under its logical id."""

    logical_id: str
    type: str
    definition: str  # with DefinitionSubstitutions applied, when it has any
    logging: StateMachineLogging | None = None

    @property
    def role_arn(self) -> str:
        """The role it is created with (moto checks none; SAM names one per machine)."""
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.logical_id}Role"


def function_arn(logical_id: str, region: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{logical_id}"


def state_machine_arn(logical_id: str, region: str) -> str:
    """The ARN of a state machine of the template, created under its logical id."""
    return f"arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{logical_id}"


@dataclass(frozen=True)
class Template:
    functions: dict[str, FunctionSpec]
    tables: dict[str, TableSpec]
    state_machines: dict[str, StateMachineSpec]
    secrets: tuple[str, ...] = ()  # logical ids of the generated secrets (the local names too)
    queues: tuple[str, ...] = ()  # logical ids of the SQS queues
    event_buses: tuple[str, ...] = ()  # logical ids of the EventBridge buses

    @property
    def stream_sources(self) -> list[StreamSource]:
        return [source for f in self.functions.values() for source in f.stream_sources]

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH, region: str = "us-east-1") -> Template:
        document = json.loads(json.dumps(cfn_yaml.load(str(path))))  # plain dicts
        resources: dict[str, Any] = document["Resources"]
        globals_ = document.get("Globals", {}).get("Function", {})
        resolver = _Resolver(resources, document.get("Parameters", {}), region)

        def of_type(resource_type: str) -> dict[str, dict[str, Any]]:
            return {
                name: resource.get("Properties", {})
                for name, resource in resources.items()
                if resource["Type"] == resource_type
            }

        functions = {}
        for name, props in of_type("AWS::Serverless::Function").items():
            variables = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            functions[name] = FunctionSpec(
                logical_id=name,
                handler=props.get("Handler", globals_.get("Handler")),
                timeout_seconds=int(props.get("Timeout", globals_.get("Timeout", 3))),
                environment={key: resolver.resolve(value) for key, value in variables.items()},
                stream_sources=tuple(
                    _stream_source(event_name, name, event["Properties"])
                    for event_name, event in props.get("Events", {}).items()
                    if event["Type"] == "DynamoDB"
                ),
            )
        tables = {
            name: TableSpec(name, props) for name, props in of_type("AWS::DynamoDB::Table").items()
        }
        state_machines = {}
        for name, props in of_type("AWS::Serverless::StateMachine").items():
            if "DefinitionUri" in props:
                definition = (path.parent / props["DefinitionUri"]).read_text()
            else:
                definition = json.dumps(props["Definition"])
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + key + "}", resolver.resolve(value))
            state_machines[name] = StateMachineSpec(
                name,
                props.get("Type", "STANDARD"),
                definition,
                _logging(name, props.get("Logging", props.get("LoggingConfiguration")), resolver),
            )
        return cls(
            functions,
            tables,
            state_machines,
            queues=tuple(of_type("AWS::SQS::Queue")),
            event_buses=tuple(of_type("AWS::Events::EventBus")),
            secrets=tuple(of_type("AWS::SecretsManager::Secret")),
        )


def _logical_id_of(value: Any, attribute: str) -> str:
    """The resource named by `!GetAtt Name.attribute`."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        name, got = value["Fn::GetAtt"]
        if got == attribute:
            return str(name)
    raise ValueError(f"the local runtime expects !GetAtt <resource>.{attribute}, not {value!r}")


_LOG_LEVELS = frozenset({"ALL", "ERROR", "FATAL", "OFF"})


def _logging(
    machine: str, props: dict[str, Any] | None, resolver: _Resolver
) -> StateMachineLogging | None:
    """Raises: ValueError for a level Step Functions does not have, or for more than one
    destination (Step Functions takes exactly one when the level is not OFF)."""
    if props is None:
        return None
    level = resolver.resolve(props.get("Level", "OFF"))
    if level not in _LOG_LEVELS:
        raise ValueError(f"{machine}: Logging.Level {level!r} is none of {sorted(_LOG_LEVELS)}")
    destinations = props.get("Destinations", [])
    if level == "OFF" and not destinations:
        return None
    if len(destinations) != 1:
        raise ValueError(f"{machine}: Logging needs one destination, not {len(destinations)}")
    arn = resolver.resolve(destinations[0]["CloudWatchLogsLogGroup"]["LogGroupArn"])
    return StateMachineLogging(level, bool(props.get("IncludeExecutionData", False)), arn)


# The event source mapping settings the local poller models
# (infra/local/awslambda/event_source_mapping.py): a template that sets any other
# (ParallelizationFactor, a batching or tumbling window, a record age...) is refused rather
# than run as if it were not there.
_MODELLED = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "FunctionResponseTypes",
        "DestinationConfig",
        "FilterCriteria",
    }
)


def _stream_source(name: str, function: str, props: dict[str, Any]) -> StreamSource:
    """SAM's DynamoDB event properties, with the defaults Lambda applies."""
    # `Enabled: true` is the default; a disabled mapping would still run here.
    allowed = _MODELLED | ({"Enabled"} if props.get("Enabled", True) is True else set())
    if unmodelled := sorted(set(props) - allowed):
        raise ValueError(f"{function}.{name}: the local runtime does not model {unmodelled}")
    on_failure = props.get("DestinationConfig", {}).get("OnFailure")
    if on_failure is not None and on_failure.get("Type", "SQS") != "SQS":
        raise ValueError(f"{function}.{name}: the local runtime only delivers failures to SQS")
    return StreamSource(
        name=name,
        function=function,
        table=_logical_id_of(props["Stream"], "StreamArn"),
        starting_position=props["StartingPosition"],
        batch_size=int(props.get("BatchSize", 100)),
        bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        report_batch_item_failures="ReportBatchItemFailures"
        in props.get("FunctionResponseTypes", []),
        on_failure_queue=(
            _logical_id_of(on_failure["Destination"], "Arn") if on_failure is not None else None
        ),
        filter_patterns=tuple(
            json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", [])
        ),
    )


# Resources the local runtime creates under their logical id.
_NAMED_BY_LOGICAL_ID = frozenset(
    {
        "AWS::Serverless::Function",
        "AWS::DynamoDB::Table",
        "AWS::Events::EventBus",
        "AWS::SQS::Queue",
    }
)


class _Resolver:
    """Resolves the intrinsic functions the template uses to their local values."""

    def __init__(self, resources: dict[str, Any], parameters: dict[str, Any], region: str):
        self._resources = resources
        self._parameters = parameters
        self._region = region

    def resolve(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Ref" in value:
            name = value["Ref"]
            if name in self._parameters:
                return str(self._parameters[name]["Default"])
            if self._resources[name]["Type"] == "AWS::Serverless::StateMachine":
                return state_machine_arn(name, self._region)  # Ref of a machine is its ARN
            return self._physical_id(name)
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            name, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and self._resources[name]["Type"] == "AWS::Serverless::Function":
                return function_arn(name, self._region)
            if attribute == "Arn" and self._resources[name]["Type"] == (
                "AWS::Serverless::StateMachine"
            ):
                return state_machine_arn(name, self._region)
            if attribute == "Arn" and self._resources[name]["Type"] == "AWS::DynamoDB::Table":
                return f"arn:aws:dynamodb:{self._region}:{ACCOUNT_ID}:table/{name}"
            if attribute == "Arn" and self._resources[name]["Type"] == "AWS::Logs::LogGroup":
                group = self._physical_id(name)
                return f"arn:aws:logs:{self._region}:{ACCOUNT_ID}:log-group:{group}:*"
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._substituted(m[1]), value["Fn::Sub"])
        raise ValueError(f"the local runtime cannot resolve {value!r}")

    def _substituted(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": LOCAL_STACK_NAME,
            "AWS::Region": self._region,
            "AWS::AccountId": ACCOUNT_ID,
        }
        return pseudo[name] if name in pseudo else self.resolve({"Ref": name})

    def _physical_id(self, name: str) -> str:
        if self._resources[name]["Type"] == "AWS::Logs::LogGroup":
            given = self._resources[name].get("Properties", {}).get("LogGroupName")
            return name if given is None else self.resolve(given)
        if self._resources[name]["Type"] in _NAMED_BY_LOGICAL_ID:
            return name
        if self._resources[name]["Type"] == "AWS::SecretsManager::Secret":
            return name  # an ARN on AWS; GetSecretValue takes the name as well
        raise ValueError(f"the local runtime cannot resolve a Ref to {name}")
