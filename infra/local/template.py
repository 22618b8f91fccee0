"""Reads the SAM template, the one description of the functions, tables and state machine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

INFRA_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = INFRA_DIR / "template.yaml"
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # "functions.handlers.acquire_lock.lambda_handler"
    timeout_seconds: int
    environment: dict[str, str]

    def arn(self, region: str) -> str:
        return function_arn(self.logical_id, region)


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    properties: dict[str, Any]

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
class StateMachineSpec:
    logical_id: str
    type: str
    definition: str  # with DefinitionSubstitutions applied


def function_arn(logical_id: str, region: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{logical_id}"


@dataclass(frozen=True)
class Template:
    functions: dict[str, FunctionSpec]
    tables: dict[str, TableSpec]
    state_machines: dict[str, StateMachineSpec]
    secrets: tuple[str, ...] = ()  # logical ids of the generated secrets (the local names too)

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
            )
        tables = {
            name: TableSpec(name, props) for name, props in of_type("AWS::DynamoDB::Table").items()
        }
        state_machines = {}
        for name, props in of_type("AWS::Serverless::StateMachine").items():
            definition = (path.parent / props["DefinitionUri"]).read_text()
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + key + "}", resolver.resolve(value))
            state_machines[name] = StateMachineSpec(name, props.get("Type", "STANDARD"), definition)
        secrets = tuple(of_type("AWS::SecretsManager::Secret"))
        return cls(functions, tables, state_machines, secrets)


# Resources the local runtime creates under their logical id.
_NAMED_BY_LOGICAL_ID = frozenset(
    {"AWS::Serverless::Function", "AWS::DynamoDB::Table", "AWS::Events::EventBus"}
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
            return self._physical_id(name)
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            name, attribute = value["Fn::GetAtt"]
            if attribute == "Arn" and self._resources[name]["Type"] == "AWS::Serverless::Function":
                return function_arn(name, self._region)
            if attribute == "Arn" and self._resources[name]["Type"] == "AWS::DynamoDB::Table":
                return f"arn:aws:dynamodb:{self._region}:{ACCOUNT_ID}:table/{name}"
        raise ValueError(f"the local runtime cannot resolve {value!r}")

    def _physical_id(self, name: str) -> str:
        if self._resources[name]["Type"] in _NAMED_BY_LOGICAL_ID:
            return name
        if self._resources[name]["Type"] == "AWS::SecretsManager::Secret":
            return name  # an ARN on AWS; GetSecretValue takes the name as well
        raise ValueError(f"the local runtime cannot resolve a Ref to {name}")
