"""The SAM template as CloudFormation receives it, and as the SAM transform turns it into resources.

`sam deploy` uploads the local artifacts (the code bundle, the ASL file, the included OpenAPI
document) and rewrites their paths to S3 locations; CloudFormation then expands AWS::Include
before it runs the AWS::Serverless transform. `packaged` does the same offline: CodeUri and
DefinitionUri become S3 locations and the Include becomes the OpenAPI document itself.
`transformed` runs aws-sam-translator on that, as CloudFormation would.
"""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import cfn_yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "transaction.asl.json"
ARTIFACTS_BUCKET = "wallet-artifacts"


def state_machine_paths(path: Path = TEMPLATE_PATH) -> dict[str, Path]:
    """Every state machine of the template, by logical id, with its ASL file."""
    resources = json.loads(json.dumps(cfn_yaml.load(str(path))))["Resources"]
    return {
        name: (path.parent / resource["Properties"]["DefinitionUri"]).resolve()
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::StateMachine"
    }


STATE_MACHINES = state_machine_paths()


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template with its YAML tags (!Ref, !GetAtt...) in their long JSON form."""
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def included_document(transform: dict[str, Any], base: Path) -> Any:
    """The document an `Fn::Transform: AWS::Include` names, parsed as CloudFormation parses it."""
    assert transform["Name"] == "AWS::Include"
    return yaml.safe_load((base / transform["Parameters"]["Location"]).read_text())


def package(template: dict[str, Any], base: Path = TEMPLATE_PATH.parent) -> dict[str, Any]:
    """What CloudFormation hands the SAM transform after `sam deploy` and AWS::Include."""
    packaged = copy.deepcopy(template)

    def expand_includes(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::Transform"} and node["Fn::Transform"]["Name"] == "AWS::Include":
                return included_document(node["Fn::Transform"], base)
            return {key: expand_includes(value) for key, value in node.items()}
        if isinstance(node, list):
            return [expand_includes(value) for value in node]
        return node

    packaged = expand_includes(packaged)
    function_globals = packaged["Globals"]["Function"]
    assert (base / function_globals["CodeUri"]).resolve() == ROOT / ".build" / "lambda"
    function_globals["CodeUri"] = f"s3://{ARTIFACTS_BUCKET}/lambda.zip"
    for resource in packaged["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            assert (base / properties["DefinitionUri"]).is_file()
            properties["DefinitionUri"] = {"Bucket": ARTIFACTS_BUCKET, "Key": "definition.asl"}
    return packaged


def transform(packaged: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """The CloudFormation template the AWS::Serverless transform makes of `packaged`."""
    translator = Translator(managed_policy_map={}, sam_parser=Parser())
    return translator.translate(copy.deepcopy(packaged), parameter_values=parameters)


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="session", params=sorted(STATE_MACHINES))
def machine(request: pytest.FixtureRequest) -> str:
    """Each state machine of the template, by logical id: the checks hold for every one."""
    return str(request.param)


def definition_of(machine: str) -> dict[str, Any]:
    """The ASL of a state machine of the template, by logical id."""
    return dict(json.loads(STATE_MACHINES[machine].read_text()))


@pytest.fixture(scope="session")
def asl(machine: str) -> dict[str, Any]:
    return definition_of(machine)


@pytest.fixture(scope="session")
def packaged(sam_template) -> dict[str, Any]:
    return package(sam_template)


@pytest.fixture(scope="session")
def transformed(packaged) -> dict[str, Any]:
    """With the parameters' defaults, as a plain `make deploy` creates it."""
    return transform(packaged)


@pytest.fixture(scope="session")
def transformed_without_auth(packaged) -> dict[str, Any]:
    return transform(packaged, ApiAuthorization="NONE")
