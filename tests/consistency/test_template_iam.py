"""Least privilege, checked on the transformed template: every role may do what its code does,
on its own resources, and nothing else.

What the handlers do is not taken on trust: each one runs on moto while its DynamoDB requests are
recorded, and IAM needs the action of each request (for TransactWriteItems, of each item) on the
table it names. Whether IAM then allows exactly that is AWS's part: only `make e2e` shows it.
"""

import importlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.repositories import dynamodb
from functions.settings import get_settings
from infra.local.template import Template
from tests.builders import get_balance_event
from tests.consistency.test_template import invoked_functions, resources_of_type

# (action, table) each function needs; the test below records them from the handlers.
EXPECTED_DYNAMODB_ACCESS = {
    "ValidateRequestFunction": set(),
    # take_lock: UpdateItem of the user's aggregate row.
    "AcquireLockFunction": {("dynamodb:UpdateItem", "AggregatesTable")},
    # put_pending: TransactWriteItems of a ConditionCheck on the lock and a Put of the record
    # (ReturnValuesOnConditionCheckFailure needs no read permission).
    "PutTransactionFunction": {
        ("dynamodb:ConditionCheckItem", "AggregatesTable"),
        ("dynamodb:PutItem", "TransactionsTable"),
    },
    # commit: TransactWriteItems of two Updates, the aggregate row and the transaction record.
    "UpdateBalanceFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:UpdateItem", "TransactionsTable"),
    },
    # release_lock: UpdateItem removing the lock.
    "ReleaseLockFunction": {("dynamodb:UpdateItem", "AggregatesTable")},
    # delete_pending: DeleteItem; revert: TransactWriteItems of an Update and a Delete.
    "DeleteTransactionFunction": {
        ("dynamodb:DeleteItem", "TransactionsTable"),
        ("dynamodb:UpdateItem", "AggregatesTable"),
    },
    # find_balance: a consistent GetItem.
    "GetBalanceFunction": {("dynamodb:GetItem", "AggregatesTable")},
}

# Wildcards that AWS requires. Step Functions' log delivery (CloudWatch Logs vended-log APIs) and
# X-Ray accept no resource-level permissions, so their documented policies use Resource "*".
ALLOWED_WILDCARD_STATEMENTS = {
    "TransactionStateMachineRole": [
        {
            "logs:CreateLogDelivery",
            "logs:CreateLogStream",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutLogEvents",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        },
        {
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
        },
    ],
}

# AWS managed policies, attached by SAM (functions: basic logging, and X-Ray for Tracing: Active)
# or by the template (API Gateway's account-level logging role). Their statements use "*" for
# the same reason as above; nothing else may be attached.
FUNCTION_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
API_GATEWAY_LOGGING_POLICY = {
    "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs"
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]


def resource_name(resource: Any) -> str:
    """'*', or the logical id an ARN comes from."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        name, attribute = resource["Fn::GetAtt"]
        assert attribute == "Arn", resource
        return str(name)
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    raise AssertionError(f"a literal or computed ARN, not a template resource: {resource!r}")


def grants(role: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, resource) pairs the role's inline policies allow."""
    pairs = set()
    for statement in statements(role):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement, statement
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.add((action, resource_name(resource)))
    return pairs


def function_roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    roles = {}
    for name, function in resources_of_type(template, "AWS::Lambda::Function").items():
        [role_name, _] = function["Properties"]["Role"]["Fn::GetAtt"]
        roles[name] = template["Resources"][role_name]
    return roles


def trusted_services(role: dict[str, Any]) -> list[str]:
    trusted = []
    for statement in as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"]):
        assert as_list(statement["Action"]) == ["sts:AssumeRole"], statement
        trusted += as_list(statement["Principal"]["Service"])
    return trusted


# Wildcards and attachments.


def test_no_wildcard_action_or_resource_beyond_what_aws_requires(transformed):
    roles = resources_of_type(transformed, "AWS::IAM::Role")
    for name, role in roles.items():
        wildcards = [
            statement
            for statement in statements(role)
            if any("*" in action for action in as_list(statement["Action"]))
            or any("*" in json.dumps(r) for r in as_list(statement["Resource"]))
        ]
        for statement in wildcards:
            assert as_list(statement["Resource"]) == ["*"], (name, statement)
            assert not any("*" in action for action in as_list(statement["Action"]))
        allowed = ALLOWED_WILDCARD_STATEMENTS.get(name, [])
        assert [set(as_list(s["Action"])) for s in wildcards] == allowed, name


def test_a_wildcard_fails_the_check(transformed):
    role = json.loads(json.dumps(transformed["Resources"]["GetBalanceFunctionRole"]))
    role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"] = "dynamodb:*"

    with pytest.raises(AssertionError):
        test_no_wildcard_action_or_resource_beyond_what_aws_requires(
            {"Resources": {"GetBalanceFunctionRole": role}}
        )


def test_only_the_expected_managed_policies_are_attached(transformed):
    roles = resources_of_type(transformed, "AWS::IAM::Role")
    function_role_names = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in resources_of_type(transformed, "AWS::Lambda::Function").values()
    }
    for name, role in roles.items():
        attached = role["Properties"].get("ManagedPolicyArns", [])
        if name in function_role_names:
            assert set(attached) == FUNCTION_MANAGED_POLICIES, name
        elif name == "ApiGatewayCloudWatchRole":
            assert attached == [API_GATEWAY_LOGGING_POLICY]
            assert trusted_services(role) == ["apigateway.amazonaws.com"]
            assert role["Condition"] == "IsApiGatewayAccountManaged"
        else:
            assert attached == [], name
    other_policies = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"}
    assert not [r for r in transformed["Resources"].values() if r["Type"] in other_policies]


# Functions: exactly their DynamoDB requests, on their tables.


def test_each_function_may_make_exactly_its_dynamodb_requests(transformed):
    roles = function_roles(transformed)

    assert set(roles) == set(EXPECTED_DYNAMODB_ACCESS)
    for name, role in roles.items():
        assert trusted_services(role) == ["lambda.amazonaws.com"], name
        assert grants(role) == EXPECTED_DYNAMODB_ACCESS[name], name


@dataclass
class Context:
    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "request-1"


# TransactWriteItems' item kinds and the IAM action each needs (ConditionCheck has its own).
ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


class DynamoDbRecorder:
    """Records the (IAM action, table) of every DynamoDB request, per function."""

    def __init__(self) -> None:
        self.current = ""
        self.access: dict[str, set[tuple[str, str]]] = defaultdict(set)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("TransactWriteItems", "TransactGetItems"):
            for item in params["TransactItems"]:
                [(kind, request)] = item.items()
                action = ITEM_ACTIONS.get(kind, f"{kind}Item")
                self.access[self.current].add((f"dynamodb:{action}", request["TableName"]))
        else:
            self.access[self.current].add((f"dynamodb:{model.name}", params["TableName"]))

    def run(self, function: str, event: dict[str, Any]) -> Any:
        self.current = function
        self.access[function]  # a function that makes no request is recorded too
        handler = Template.load().functions[function].handler
        module_name, attribute = handler.rsplit(".", 1)
        lambda_handler = getattr(importlib.import_module(module_name), attribute)
        return lambda_handler(event, Context(function))


@pytest.fixture
def recorder(monkeypatch) -> Iterator[DynamoDbRecorder]:
    """moto with the template's tables; the functions' environment as the template sets it."""
    template = Template.load()
    for key, value in template.functions["AcquireLockFunction"].environment.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    dynamodb.client.cache_clear()
    with mock_aws():
        client = boto3.client("dynamodb")
        for table in template.tables.values():
            client.create_table(**table.create_table_request())
        recorder = DynamoDbRecorder()
        dynamodb.client().meta.events.register("provide-client-params.dynamodb", recorder)
        yield recorder
    get_settings.cache_clear()
    dynamodb.client.cache_clear()


def test_handlers_make_exactly_the_expected_dynamodb_requests(recorder):
    """Every path that reaches DynamoDB: the saga, the revert of a committed record, the GET."""
    owner = "arn:aws:states:us-east-1:123456789012:express:TransactionStateMachine:e1:x"
    body = json.dumps({"userId": "u1", "ammount": "10", "type": "credit"})

    request = recorder.run(
        "ValidateRequestFunction", {"body": body, "idempotencyKey": "k1", "executionId": owner}
    )
    lock = recorder.run("AcquireLockFunction", {"userId": "u1", "executionId": owner})
    put = recorder.run("PutTransactionFunction", {"request": request, "executionId": owner})
    committed = recorder.run(
        "UpdateBalanceFunction",
        {
            "request": request,
            "balance": lock["balance"],
            "transactionId": put["transactionId"],
            "createdAt": put["createdAt"],
            "executionId": owner,
        },
    )
    reverted = recorder.run(
        "DeleteTransactionFunction", {"userId": "u1", "idempotencyKey": "k1", "executionId": owner}
    )
    released = recorder.run("ReleaseLockFunction", {"userId": "u1", "executionId": owner})
    response = recorder.run("GetBalanceFunction", get_balance_event({"userId": "u1"}))

    assert committed["transaction"]["balance"] == "110.00"
    assert reverted == {"reverted": True}
    assert released == {"released": True}
    assert (response["statusCode"], json.loads(response["body"])["balance"]) == (200, "100.00")
    assert dict(recorder.access) == EXPECTED_DYNAMODB_ACCESS


# The state machine and the API.


def test_state_machine_may_invoke_exactly_the_functions_of_the_asl(transformed, asl):
    role = transformed["Resources"]["TransactionStateMachineRole"]
    invoked = {placeholder.removesuffix("Arn") for placeholder in invoked_functions(asl).values()}

    assert trusted_services(role) == ["states.amazonaws.com"]
    invocable = {r for action, r in grants(role) if action == "lambda:InvokeFunction"}
    assert invocable == invoked
    assert {action for action, _ in grants(role)} - {"lambda:InvokeFunction"} == set().union(
        *ALLOWED_WILDCARD_STATEMENTS["TransactionStateMachineRole"]
    )


def test_api_role_may_only_start_sync_executions_of_this_state_machine(transformed):
    role = transformed["Resources"]["ApiStartSyncExecutionRole"]

    assert trusted_services(role) == ["apigateway.amazonaws.com"]
    assert grants(role) == {("states:StartSyncExecution", "TransactionStateMachine")}


def trust_conditions(role: dict[str, Any]) -> list[dict[str, Any]]:
    document = role["Properties"]["AssumeRolePolicyDocument"]
    return [statement.get("Condition", {}) for statement in as_list(document["Statement"])]


THIS_ACCOUNT = {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_state_machine_and_api_roles_trust_only_this_accounts_service(transformed):
    """Confused-deputy protection on the two roles that a service assumes for this stack alone.

    Step Functions sends aws:SourceAccount when it assumes a state machine's role, and documents
    the condition. API Gateway is reported not to send it when it assumes an integration's
    credentials role: with a plain StringEquals every request failed with "API Gateway does not
    have permission to assume the provided role" (aws-solutions-library-samples/
    accelerated-intelligent-document-processing-on-aws, pull request 479). So the API's role
    checks the account whenever the request carries it (IfExists) and cannot lock POST out.
    """
    resources = transformed["Resources"]

    assert trust_conditions(resources["TransactionStateMachineRole"]) == [
        {"StringEquals": THIS_ACCOUNT}
    ]
    assert trust_conditions(resources["ApiStartSyncExecutionRole"]) == [
        {"StringEqualsIfExists": THIS_ACCOUNT}
    ]


def test_every_lambda_integration_has_an_invoke_permission_scoped_to_its_route(transformed):
    body = transformed["Resources"]["WalletApi"]["Properties"]["Body"]
    permissions = resources_of_type(transformed, "AWS::Lambda::Permission").values()
    granted = {
        (resource_name(p["Properties"]["FunctionName"]), p["Properties"]["SourceArn"]["Fn::Sub"])
        for p in permissions
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
        and p["Properties"]["Action"] == "lambda:InvokeFunction"
    }
    needed = set()
    for path, item in body["paths"].items():
        for method, operation in item.items():
            integration = operation["x-amazon-apigateway-integration"]
            if integration["type"] == "aws_proxy":
                [function] = [
                    n.split(".")[0]
                    for n in integration["uri"]["Fn::Sub"].split("${")
                    if n.endswith(".Arn}/invocations")
                ]
                source = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                needed.add((function, f"{source}${{WalletApi}}/*/{method.upper()}{path}"))

    assert needed == {
        (
            "GetBalanceFunction",
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:"
            "${AWS::AccountId}:${WalletApi}/*/GET/balance",
        )
    }
    assert granted == needed
