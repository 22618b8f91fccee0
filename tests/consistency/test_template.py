"""The SAM template, checked offline: cfn-lint, the SAM transform, and its agreement with the ASL,
the handlers, the OpenAPI document and the build.

Offline means: these checks stop where AWS starts. IAM evaluation, service quotas, API Gateway's
own VTL engine and the deployment itself are only exercised by `make e2e` on a real stack.
"""

import copy
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.match import Match

from infra import build
from infra.local.cloudformation.template import Template
from infra.local.stepfunctions.diagram import transitions
from tests.bench import cost
from tests.consistency.conftest import (
    ROOT,
    STATE_MACHINES,
    TEMPLATE_PATH,
    included_document,
    transform,
)

HANDLERS_DIR = ROOT / "functions" / "handlers"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
DYNAMODB_TASK = "arn:aws:states:::dynamodb:"


def lint_errors(template: dict[str, Any] | str) -> list[Match]:
    text = template if isinstance(template, str) else json.dumps(template)
    return lint(text, regions=["us-east-1"])


def resources_of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_}


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([^}]+)\}", text))


def arguments(state: dict[str, Any]) -> dict[str, Any]:
    """A task's request: `Parameters` in JSONPath, `Arguments` in JSONata."""
    return dict(state.get("Parameters") or state["Arguments"])


def invoked_functions(asl: dict[str, Any]) -> dict[str, str]:
    """Task state -> the placeholder its FunctionName is, for every Lambda task."""
    invoked = {}
    for name, state in asl["States"].items():
        if state["Type"] == "Task" and state["Resource"] == LAMBDA_INVOKE:
            [placeholder] = placeholders(arguments(state)["FunctionName"])
            invoked[name] = placeholder
    return invoked


def dynamodb_tasks(asl: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Task state -> (IAM action, table placeholder), for every task of DynamoDB's integration."""
    tasks = {}
    for name, state in asl["States"].items():
        if state["Type"] == "Task" and state["Resource"].startswith(DYNAMODB_TASK):
            api = state["Resource"].removeprefix(DYNAMODB_TASK)
            [placeholder] = placeholders(arguments(state)["TableName"])
            tasks[name] = (f"dynamodb:{api[0].upper()}{api[1:]}", placeholder)
    return tasks


def test_every_task_is_a_lambda_or_a_dynamodb_task(asl):
    tasks = {name for name, state in asl["States"].items() if state["Type"] == "Task"}

    assert tasks == set(invoked_functions(asl)) | set(dynamodb_tasks(asl))
    assert {api for api, _ in dynamodb_tasks(asl).values()} <= {"dynamodb:UpdateItem"}


def state_machine_definition_template(definition: dict[str, Any]) -> dict[str, Any]:
    """A one-resource template, so that cfn-lint validates the ASL as Step Functions gets it."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineType": "EXPRESS",
                    "RoleArn": "arn:aws:iam::123456789012:role/wallet-states",
                    "Definition": definition,
                },
            }
        },
    }


def rendered_definition(machine: str = "TransactionStateMachine") -> dict[str, Any]:
    """The ASL with its DefinitionSubstitutions applied (function ARNs of the local runtime)."""
    spec = Template.load().state_machines[machine]
    return json.loads(spec.definition)


def is_known_cfn_lint_gap(match: Match, definition: dict[str, Any]) -> bool:
    """cfn-lint 1.58's ASL schema omits InputPath/OutputPath from Succeed states, which the
    States Language allows (https://states-language.net/spec.html#state-type-table)."""
    path = match.path[-3:] if match.path else []
    return (
        len(path) == 3
        and path[0] == "States"
        and path[2] in ("InputPath", "OutputPath")
        and definition["States"][path[1]]["Type"] == "Succeed"
    )


# cfn-lint


def test_sam_template_passes_cfn_lint():
    assert lint_errors(TEMPLATE_PATH.read_text()) == []


def test_transformed_template_passes_cfn_lint(transformed, transformed_without_auth):
    assert lint_errors(transformed) == []
    assert lint_errors(transformed_without_auth) == []


def test_cfn_lint_sees_the_openapi_placeholders_in_the_transformed_template(transformed):
    broken = copy.deepcopy(transformed)
    del broken["Resources"]["ApiStartSyncExecutionRole"]

    messages = [str(match) for match in lint_errors(broken)]

    assert any("ApiStartSyncExecutionRole" in message for message in messages), messages


def test_asl_passes_cfn_lint_as_a_state_machine_definition(machine):
    definition = rendered_definition(machine)

    errors = lint_errors(state_machine_definition_template(definition))

    assert [e for e in errors if not is_known_cfn_lint_gap(e, definition)] == []


@pytest.mark.parametrize(
    ("state", "field", "value", "expected"),
    [
        ("AcquireLock", "Type", "Tsak", "'Tsak' is not one of"),
        ("AcquireLock", "Next", None, "Only one of ['Next', 'End'] is a required property"),
        ("ReleaseLock", "TimeoutSeconds", "five", "'five' is not of type 'number'"),
        ("TransactionSucceeded", "ResultPath", "$.x", "'ResultPath' was unexpected"),
    ],
    ids=["unknown-type", "no-next", "timeout-not-a-number", "succeed-with-result-path"],
)
def test_cfn_lint_rejects_a_broken_asl(state, field, value, expected):
    definition = rendered_definition()
    if value is None:
        del definition["States"][state][field]
    else:
        definition["States"][state][field] = value

    messages = [e.message for e in lint_errors(state_machine_definition_template(definition))]

    assert any(expected in message for message in messages), messages


# The ASL, the template and the handlers name the same things.


def test_every_asl_placeholder_is_a_substitution_and_every_substitution_is_used(
    sam_template, machine
):
    substitutions = sam_template["Resources"][machine]["Properties"]["DefinitionSubstitutions"]

    assert placeholders(STATE_MACHINES[machine].read_text()) == set(substitutions)


def test_every_transition_names_a_state_and_every_state_is_reachable(asl):
    edges = transitions(asl)
    states = set(asl["States"])

    assert {target for _, target, _ in edges} <= states
    reachable, frontier = set(), [asl["StartAt"]]
    while frontier:
        state = frontier.pop()
        if state not in reachable:
            reachable.add(state)
            frontier += [target for source, target, _ in edges if source == state]
    assert reachable == states


def test_every_invoked_function_follows_the_naming_rule(asl, sam_template, machine):
    """State AcquireLock -> resource AcquireLockFunction -> ${AcquireLockFunctionArn} ->
    functions/handlers/acquire_lock.py."""
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")
    substitutions = sam_template["Resources"][machine]["Properties"]["DefinitionSubstitutions"]
    for state, placeholder in invoked_functions(asl).items():
        function = f"{state}Function"
        module = snake_case(function.removesuffix("Function"))

        assert placeholder == f"{function}Arn", state
        assert substitutions[placeholder] == {"Fn::GetAtt": [function, "Arn"]}, state
        assert function in functions, state
        handler = functions[function]["Properties"]["Handler"]
        assert handler == f"functions.handlers.{module}.lambda_handler", state
        assert (HANDLERS_DIR / f"{module}.py").is_file(), state


def test_every_substitution_is_the_arn_of_a_function_or_the_name_of_a_table(sam_template, machine):
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")
    tables = resources_of_type(sam_template, "AWS::DynamoDB::Table")
    substitutions = sam_template["Resources"][machine]["Properties"]["DefinitionSubstitutions"]

    for placeholder, value in substitutions.items():
        if placeholder.endswith("TableName"):
            assert value == {"Ref": placeholder.removesuffix("Name")}, placeholder
            assert value["Ref"] in tables, placeholder
            continue
        [name, attribute] = value["Fn::GetAtt"]
        assert (name in functions, attribute) == (True, "Arn"), placeholder


def test_every_handler_imports_and_exposes_lambda_handler(sam_template):
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")
    for name, function in functions.items():
        module_name, attribute = function["Properties"]["Handler"].rsplit(".", 1)

        module = importlib.import_module(module_name)

        assert attribute == "lambda_handler", name
        assert callable(getattr(module, attribute, None)), name


def test_every_handler_module_is_deployed_as_a_function(sam_template):
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")
    deployed = {f["Properties"]["Handler"].split(".")[2] for f in functions.values()}
    modules = {path.stem for path in HANDLERS_DIR.glob("*.py") if path.stem != "__init__"}

    assert deployed == modules


# Functions: one bundle, the runtime the build targets.


def test_functions_share_one_bundle_built_for_their_runtime_and_architecture(sam_template):
    function_globals = sam_template["Globals"]["Function"]
    functions = resources_of_type(sam_template, "AWS::Serverless::Function")
    target = build.target(TEMPLATE_PATH)

    assert re.fullmatch(r"python3\.(1[2-9]|[2-9]\d)", function_globals["Runtime"])
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert target.code_uri == ROOT / ".build" / "lambda"
    assert (target.python_version, target.platform) == (
        function_globals["Runtime"].removeprefix("python"),
        "manylinux2014_aarch64",
    )
    overridden = {"Runtime", "Architectures", "CodeUri", "Tracing"}
    for name, function in functions.items():
        # Only the stream consumers set their own Tracing (PassThrough).
        allowed = {"Tracing"} if name in PASS_THROUGH_TRACING else set()
        assert not (overridden - allowed) & set(function["Properties"]), name
        if name in PASS_THROUGH_TRACING:
            assert function["Properties"]["Tracing"] == "PassThrough", name


def test_build_installs_requirements_for_the_target_platform_only():
    command = build.pip_install_command(build.target(TEMPLATE_PATH))

    assert command[command.index("--platform") + 1] == "manylinux2014_aarch64"
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in command
    assert "aws-lambda-powertools" in (ROOT / "requirements.txt").read_text()


def test_build_leaves_compiling_to_an_interpreter_of_the_runtime_version():
    command = build.pip_install_command(build.target(TEMPLATE_PATH))
    this_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    broken = "/nonexistent/bin/python3.12"

    assert "--no-compile" in command  # pip would write bytecode for this interpreter's version
    assert build.find_compiler(this_version, [broken, sys.executable]) == sys.executable
    assert build.find_compiler("3.0", [broken, sys.executable]) is None


def test_a_shim_that_cannot_run_is_no_compiler(tmp_path: Path):
    shim = tmp_path / "python3.12"  # what pyenv leaves on the PATH for an inactive version
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)

    assert build.interpreter_version(str(shim)) is None
    assert build.find_compiler("3.12", [str(shim)]) is None


def test_compiled_bytecode_is_used_without_looking_at_the_source(tmp_path: Path):
    package = tmp_path / "bundled"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "settings.py"
    module.write_text("ANSWER = 'compiled'\n")

    compiled = build.compile_bundle(sys.executable, tmp_path)
    # Changed after the build (a later mtime, another size): timestamp bytecode would be stale.
    module.write_text("ANSWER = 'recompiled from the source at import'\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = "import bundled.settings as s; print(s.ANSWER)"
    imported = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert compiled == 2
    tag = sys.implementation.cache_tag
    assert (package / "__pycache__" / f"settings.{tag}.pyc").is_file()
    assert imported.stdout.strip() == "compiled"


def test_a_module_that_does_not_compile_stops_the_build(tmp_path: Path):
    (tmp_path / "broken.py").write_text("def broken(:\n")

    with pytest.raises(SystemExit, match="compileall failed"):
        build.compile_bundle(sys.executable, tmp_path)


def test_build_detects_a_native_module_for_another_machine(tmp_path: Path):
    elf_header = b"\x7fELF" + bytes(14)
    (tmp_path / "arm.so").write_bytes(elf_header + (183).to_bytes(2, "little"))
    (tmp_path / "intel.cpython-312-x86_64-linux-gnu.so").write_bytes(
        elf_header + (62).to_bytes(2, "little")
    )

    foreign = build.foreign_binaries(tmp_path, "arm64")

    assert [path.name for path in foreign] == ["intel.cpython-312-x86_64-linux-gnu.so"]


# Stream records carry no trace header: with Active, Lambda would start a trace for most batches.
PASS_THROUGH_TRACING = {"ForwardEventsFunction", "ProjectSummariesFunction"}


def test_transformed_functions_run_on_arm64_with_active_tracing(sam_template, transformed):
    functions = resources_of_type(transformed, "AWS::Lambda::Function")
    runtime = sam_template["Globals"]["Function"]["Runtime"]

    assert len(functions) == 20
    for name, function in functions.items():
        properties = function["Properties"]
        tracing = "PassThrough" if name in PASS_THROUGH_TRACING else "Active"
        assert properties["Runtime"] == runtime, name
        assert properties["Code"] == {"S3Bucket": "wallet-artifacts", "S3Key": "lambda.zip"}, name
        assert properties["Architectures"] == ["arm64"], name
        assert properties["TracingConfig"] == {"Mode": tracing}, name
        # JSON, so that Lambda's own START/END/REPORT lines are left out below WARN.
        assert properties["LoggingConfig"] == {
            "LogGroup": {"Ref": "FunctionsLogGroup"},
            "LogFormat": "JSON",
            "SystemLogLevel": "WARN",
            "ApplicationLogLevel": {"Ref": "FunctionLogLevel"},
        }, name
    assert transformed["Resources"]["FunctionsLogGroup"]["Properties"]["RetentionInDays"]


# State machine, API, tables, outputs.


def test_state_machine_is_express_with_logging_at_the_chosen_level_and_tracing(
    sam_template, transformed, machine
):
    resources = transformed["Resources"]
    properties = resources[machine]["Properties"]

    assert properties["StateMachineType"] == "EXPRESS"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    # ALL with execution data by default (the console's visual debugging needs it); ERROR for
    # a cost-sensitive stack. The bench prices both levels (tests/bench/cost.py).
    level = sam_template["Parameters"]["StateMachineLogLevel"]
    assert (level["Default"], level["AllowedValues"]) == ("ALL", ["ALL", "ERROR"])
    assert list(cost.LOG_LEVELS) == level["AllowedValues"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == (
        {"Ref": "StateMachineLogLevel"},
        True,
    )
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [f"{machine}LogGroup", "Arn"]}}}
    ]
    log_group = resources[f"{machine}LogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert log_group["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")
    assert properties["RoleArn"] == {"Fn::GetAtt": [f"{machine}Role", "Arn"]}
    assert set(properties["DefinitionSubstitutions"]) == placeholders(
        STATE_MACHINES[machine].read_text()
    )


def test_both_log_levels_pass_cfn_lint_and_the_sam_transform(packaged):
    for level in cost.LOG_LEVELS:
        template = transform(packaged, StateMachineLogLevel=level)
        assert lint_errors(template) == [], level


def test_cfn_lint_refuses_a_log_level_step_functions_does_not_have(sam_template):
    broken = copy.deepcopy(sam_template)
    broken["Parameters"]["StateMachineLogLevel"]["AllowedValues"] = ["ALL", "VERBOSE"]

    messages = [str(match) for match in lint_errors(broken)]

    assert any("Logging/Level" in m and "is not one of" in m for m in messages), messages


def test_api_definition_is_the_openapi_document(sam_template, transformed):
    definition = sam_template["Resources"]["WalletApi"]["Properties"]["DefinitionBody"]
    document = included_document(definition["Fn::Transform"], TEMPLATE_PATH.parent)
    body = transformed["Resources"]["WalletApi"]["Properties"]["Body"]

    assert definition["Fn::Transform"]["Parameters"]["Location"] == "openapi.yaml"
    assert body["paths"].keys() == document["paths"].keys()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            integration = body["paths"][path][method]["x-amazon-apigateway-integration"]
            assert integration == operation["x-amazon-apigateway-integration"], (path, method)


def test_openapi_placeholders_name_template_resources(sam_template):
    definition = sam_template["Resources"]["WalletApi"]["Properties"]["DefinitionBody"]
    document = included_document(definition["Fn::Transform"], TEMPLATE_PATH.parent)
    names = placeholders(json.dumps(document))

    assert names >= {
        "TransactionStateMachine.Arn",
        "TransferStateMachine.Arn",
        "ApiStartSyncExecutionRole.Arn",
        "GetBalanceFunction.Arn",
    }
    for name in names:
        resource = name.split(".")[0]
        assert name.startswith("AWS::") or resource in sam_template["Resources"], name


def test_api_requires_sigv4_on_every_method_by_default(sam_template, transformed):
    body = transformed["Resources"]["WalletApi"]["Properties"]["Body"]
    operations = [(p, m, op) for p, item in body["paths"].items() for m, op in item.items()]

    assert sam_template["Parameters"]["ApiAuthorization"]["Default"] == "AWS_IAM"
    assert len(operations) >= 2
    for path, method, operation in operations:
        assert operation["security"] == [{"AWS_IAM": []}], (path, method)
    scheme = body["components"]["securitySchemes"]["AWS_IAM"]
    assert (scheme["type"], scheme["x-amazon-apigateway-authtype"]) == ("apiKey", "awsSigv4")


def test_api_authorization_none_leaves_every_method_open(transformed_without_auth):
    body = transformed_without_auth["Resources"]["WalletApi"]["Properties"]["Body"]

    for path, item in body["paths"].items():
        for method, operation in item.items():
            assert "security" not in operation, (path, method)
    assert "securitySchemes" not in body.get("components", {})


def test_api_stage_has_tracing_json_access_logs_and_throttling(transformed):
    resources = transformed["Resources"]
    [stage] = resources_of_type(transformed, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]

    assert properties["TracingEnabled"] is True
    access_log = properties["AccessLogSetting"]
    assert access_log["DestinationArn"] == {"Fn::GetAtt": ["WalletApiAccessLogGroup", "Arn"]}
    fields = json.loads(access_log["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert {"status", "httpMethod", "resourcePath", "integrationLatency"} <= set(fields)
    [settings] = properties["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert resources["WalletApiAccessLogGroup"]["Properties"]["RetentionInDays"]
    api = resources["WalletApi"]
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    # Access logging needs the account's CloudWatch role first (when the stack manages it).
    assert api["DependsOn"] == "ApiGatewayAccountReady" or api["DependsOn"] == [
        "ApiGatewayAccountReady"
    ]


def test_tables_are_on_demand_recoverable_encrypted_and_retained(sam_template):
    tables = resources_of_type(sam_template, "AWS::DynamoDB::Table")

    assert set(tables) == {
        "TransactionsTable",
        "AggregatesTable",
        "LedgerTable",
        "SummariesTable",
        "OutboxTable",
        "HoldsTable",
    }
    for name, table in tables.items():
        properties = table["Properties"]
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        if name != "OutboxTable":  # a buffer of events on their way, expiring within days
            assert properties["PointInTimeRecoverySpecification"] == {
                "PointInTimeRecoveryEnabled": True
            }, name
        assert properties["SSESpecification"] == {"SSEEnabled": True}, name
    outbox = tables["OutboxTable"]["Properties"]
    assert outbox["KeySchema"] == [{"AttributeName": "eventId", "KeyType": "HASH"}]
    assert outbox["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    # DynamoDB's TTL reads epoch seconds (a value in milliseconds would never expire).
    assert outbox["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    # A hold is deleted by TTL (epoch seconds) a retention after its expiresAt, which the code
    # reads in milliseconds: the TTL attribute is another one.
    holds = tables["HoldsTable"]["Properties"]
    assert holds["TimeToLiveSpecification"] == {"AttributeName": "purgeAt", "Enabled": True}
    assert "StreamSpecification" not in holds
    # The ledger's and the outbox's streams carry what happened; nobody reads the records'.
    assert "StreamSpecification" not in tables["TransactionsTable"]["Properties"]
    ledger = tables["LedgerTable"]["Properties"]
    assert ledger["KeySchema"] == [
        {"AttributeName": "userId", "KeyType": "HASH"},
        {"AttributeName": "sequence", "KeyType": "RANGE"},
    ]
    assert ledger["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    summaries = tables["SummariesTable"]["Properties"]
    assert summaries["KeySchema"] == [
        {"AttributeName": "userId", "KeyType": "HASH"},
        {"AttributeName": "bucket", "KeyType": "RANGE"},
    ]
    assert "StreamSpecification" not in summaries  # nothing consumes the projection's changes


def test_outputs_give_the_api_url_and_the_state_machine(sam_template):
    outputs = sam_template["Outputs"]

    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${WalletApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"
    }
    assert sam_template["Resources"]["WalletApi"]["Properties"]["StageName"] == "v1"
    for machine in STATE_MACHINES:
        assert outputs[f"{machine}Arn"]["Value"] == {"Ref": machine}
        assert outputs[f"{machine}ConsoleUrl"]["Value"] == {
            "Fn::Sub": "https://${AWS::Region}.console.aws.amazon.com/states/home"
            f"?region=${{AWS::Region}}#/statemachines/view/${{{machine}}}"
        }
        assert outputs[f"{machine}LogGroupName"]["Value"] == {"Ref": f"{machine}LogGroup"}


def test_no_eventbridge_scheduler_anywhere(sam_template, transformed):
    text = json.dumps([sam_template, transformed]).lower()

    for template in (sam_template, transformed):
        types = {resource["Type"] for resource in template["Resources"].values()}
        assert not {t for t in types if t.startswith("AWS::Scheduler::")}
        # The event bus carries the outbox's events; no rule of the stack runs on a schedule.
        for rule in resources_of_type(template, "AWS::Events::Rule").values():
            assert "ScheduleExpression" not in rule["Properties"]
    for function in resources_of_type(sam_template, "AWS::Serverless::Function").values():
        for source in function["Properties"].get("Events", {}).values():
            assert source["Type"] not in ("Schedule", "ScheduleV2")
    assert "scheduler" not in text


# make deploy and make destroy: the SAM CLI commands they run, on a clean clone and afterwards.

# What `sam deploy --guided` saves (samcli/commands/deploy/guided_config.py, save_config): the
# answers under [default.deploy.parameters], the managed bucket included.
GUIDED_DEPLOY_ANSWERS = """\
version = 0.1
[default.deploy.parameters]
stack_name = "ledger"
s3_bucket = "aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f"
s3_prefix = "ledger"
region = "eu-west-1"
confirm_changeset = true
capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"
parameter_overrides = "ApiAuthorization=\\"AWS_IAM\\" ManageApiGatewayAccount=\\"false\\""
image_repositories = []
"""
MAKE_ENVIRONMENT_LEFT_OUT = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "STACK_NAME", "DEPLOY_FLAGS"}


def sam_commands(target: str, sam_config: Path, **environment: str) -> list[list[str]]:
    """The `sam` command lines `make -n <target>` prints (nothing is run), SAM_CONFIG moved."""
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENVIRONMENT_LEFT_OUT}
    env.pop("AWS_SAM_STACK_NAME", None)
    env.update(environment)
    command = ["make", "--no-print-directory", "-n", target, "SAM=sam", f"SAM_CONFIG={sam_config}"]
    printed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    lines = printed.stdout.replace("\\\n", " ").splitlines()
    return [shlex.split(line) for line in lines if line.startswith("sam ")]


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def sam_cli_refusal(argv: list[str]) -> str | None:
    """Why SAM CLI would stop this command before asking or deploying anything, or None.

    Its rules, from aws-sam-cli's source: a --config-file other than the default name must exist
    (samcli/cli/cli_config_file.py, configuration_callback: ConfigException); a non-guided deploy
    may not combine --resolve-s3 with an s3_bucket, given or saved (samcli/commands/deploy/
    command.py: DeployResolveS3AndS3SetError); a non-guided deploy needs a stack name
    (guided_deploy_stack_name). A relative config file is found next to the template.
    """
    command, options = argv[1], argv[2:]
    config_file = option(options, "--config-file")
    saved: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        path = path if path.is_absolute() else TEMPLATE_PATH.parent / path
        if config_file != "samconfig.toml" and not path.is_file():
            return f"Config file {config_file} does not exist or could not be read!"
        if path.is_file():
            document = tomllib.loads(path.read_text())
            saved = document.get("default", {}).get(command, {}).get("parameters", {})
    is_guided = "--guided" in options
    if command == "deploy" and not is_guided:
        if "--resolve-s3" in options and (option(options, "--s3-bucket") or "s3_bucket" in saved):
            return "Cannot use both --resolve-s3 and --s3-bucket parameters"
        if not (option(options, "--stack-name") or "stack_name" in saved):
            return "Missing option '--stack-name'"
    return None


def test_the_first_deploy_is_guided_and_saves_where_later_deploys_read(tmp_path):
    absent = tmp_path / "samconfig.toml"

    [deploy] = sam_commands("deploy", absent)

    assert deploy[:2] == ["sam", "deploy"]
    assert "--guided" in deploy
    assert "--config-file" not in deploy and "--resolve-s3" not in deploy
    assert sam_cli_refusal(deploy) is None
    # sam deploy --guided saves samconfig.toml in the template's directory (GuidedConfig:
    # ctx.samconfig_dir, the directory of --template-file); the Makefile reads it from there.
    template_file = option(deploy, "--template-file")
    assert template_file is not None
    template = ROOT / template_file
    assert template == TEMPLATE_PATH
    makefile = (ROOT / "Makefile").read_text()
    [default] = re.findall(r"^SAM_CONFIG \?= (.+)$", makefile, re.MULTILINE)
    assert default == f"$(CURDIR)/{(template.parent / 'samconfig.toml').relative_to(ROOT)}"


def test_later_deploys_use_the_saved_answers_and_ask_nothing(tmp_path):
    saved = tmp_path / "samconfig.toml"
    saved.write_text(GUIDED_DEPLOY_ANSWERS)

    [deploy] = sam_commands("deploy", saved)

    assert option(deploy, "--config-file") == str(saved)
    assert option(deploy, "--stack-name") == "ledger"
    assert "--guided" not in deploy and "--resolve-s3" not in deploy
    assert sam_cli_refusal(deploy) is None
    assert {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} <= set(deploy)


@pytest.mark.parametrize(
    ("saved", "argv", "reason"),
    [
        (False, ["--config-file", "{config}", "--resolve-s3", "--guided"], "Config file"),
        (True, ["--config-file", "{config}", "--resolve-s3"], "Cannot use both"),
        (False, [], "Missing option '--stack-name'"),
    ],
    ids=["missing-config-file", "resolve-s3-with-a-saved-bucket", "no-stack-name"],
)
def test_the_check_refuses_what_sam_cli_refuses(tmp_path, saved, argv, reason):
    config = tmp_path / "samconfig.toml"
    if saved:
        config.write_text(GUIDED_DEPLOY_ANSWERS)
    command = ["sam", "deploy", "--template-file", "infra/template.yaml"]

    refusal = sam_cli_refusal(command + [arg.format(config=config) for arg in argv])

    assert refusal is not None and refusal.startswith(reason), refusal


def test_destroy_deletes_the_saved_stack_in_its_region(tmp_path):
    saved = tmp_path / "samconfig.toml"
    absent = tmp_path / "absent.toml"
    saved.write_text(GUIDED_DEPLOY_ANSWERS)

    assert sam_commands("destroy", saved) == [
        ["sam", "delete", "--stack-name", "ledger", "--region", "eu-west-1"]
    ]
    assert sam_commands("destroy", absent) == [["sam", "delete", "--stack-name", "wallet"]]
    assert sam_commands("destroy", saved, AWS_SAM_STACK_NAME="other")[0][:4] == [
        "sam",
        "delete",
        "--stack-name",
        "other",
    ]


# docs/deploy.md states what each outcome makes AWS do; the bench's counter measures it.

DEPLOY_DOC = ROOT / "docs" / "deploy.md"
COUNTS_MARKER = (
    "<!-- request counts: checked by tests/consistency/test_template.py "
    "against tests/bench/counts.py -->"
)


def stated_request_counts(text: str) -> dict[str, dict[str, Any]]:
    """The table after COUNTS_MARKER: outcome -> Lambda invocations, DynamoDB requests by
    operation, write and read units."""
    table = text.split(COUNTS_MARKER, 1)[1].strip().split("\n\n", 1)[0]
    stated = {}
    for row in table.splitlines()[2:]:
        outcome, invocations, requests, wru, rru = (c.strip() for c in row.strip("|").split("|"))
        total, _, by_operation = requests.partition(":")
        operations = dict(part.split() for part in by_operation.split(","))
        stated[re.findall(r"`(\w+)`", outcome)[0]] = {
            "lambda": int(invocations),
            "dynamodbTotal": int(total),
            "dynamodb": {name: int(count) for name, count in operations.items()},
            "wru": int(wru),
            "rru": int(rru),
        }
    return stated


def count_mismatches(stated: dict[str, dict[str, Any]], measured: dict[str, Any]) -> list[str]:
    mismatches = []
    for outcome, row in stated.items():
        counted = measured[outcome]
        actual = {
            "lambda": counted["lambdaTotal"],
            "dynamodbTotal": counted["dynamodbTotal"],
            "dynamodb": counted["dynamodb"],
            "wru": counted["wru"],
            "rru": counted["rru"],
        }
        mismatches += [
            f"{outcome} {key}: docs/deploy.md says {row[key]}, the code makes {actual[key]}"
            for key in row
            if row[key] != actual[key]
        ]
    return mismatches


@pytest.fixture(scope="module")
def counted_requests() -> dict[str, Any]:
    from infra.local.runtime import LocalAws
    from tests.bench import counts

    with LocalAws() as aws:
        lease = int(aws.template.functions["AcquireLockFunction"].environment["LOCK_LEASE_SECONDS"])
        return counts.request_counts(aws, repetitions=1, include_busy=False, lease_seconds=lease)


def test_deploy_doc_states_the_requests_each_outcome_makes(counted_requests):
    stated = stated_request_counts(DEPLOY_DOC.read_text())

    assert set(stated) == {"committed", "replay", "overdraft"}
    assert all(counted_requests[outcome]["consistent"] for outcome in stated)
    # The doc says every item is under 1 KB, so units are counted per item.
    assert counted_requests["itemKb"] == 1
    assert count_mismatches(stated, counted_requests) == []


def test_a_stale_count_in_the_deploy_doc_is_reported(counted_requests):
    text = DEPLOY_DOC.read_text()
    committed = next(line for line in text.splitlines() if line.startswith("| `committed`"))
    # PutTransaction was a PutItem (1 unit) before it became a fenced TransactWriteItems.
    stale = committed.replace("TransactWriteItems 2", "PutItem 1, TransactWriteItems 1")
    stale = stale.replace("| 14 |", "| 11 |")

    mismatches = count_mismatches(
        stated_request_counts(text.replace(committed, stale)), counted_requests
    )

    assert [m.split(":")[0] for m in mismatches] == ["committed dynamodb", "committed wru"]
