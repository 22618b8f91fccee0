"""Least privilege, checked on the transformed template: every role may do what its code does,
on its own resources, and nothing else.

What the handlers do is not taken on trust: each one runs on moto while its DynamoDB requests are
recorded, and IAM needs the action of each request (for TransactWriteItems, of each item) on the
table it names. Whether IAM then allows exactly that is AWS's part: only `make e2e` shows it.
"""

import fnmatch
import importlib
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import cfnlint
import pytest
from moto import mock_aws

from functions.domain.errors import UserBusyError
from functions.repositories import dynamodb, event_bus, secrets
from functions.settings import get_settings
from infra.local.awslambda.functions import cold_start
from infra.local.cloudformation.template import Template
from tests.builders import (
    api_event,
    get_balance_event,
    ledger_entry,
    lock_input,
    outbox_stream_event,
    put_ledger_entry,
    stream_event,
)
from tests.consistency.conftest import STATE_MACHINES, transform
from tests.consistency.test_template import (
    DEPLOY_DOC,
    dynamodb_tasks,
    invoked_functions,
    resources_of_type,
)

# (action, table) each function needs; the test below records them from the handlers.
EXPECTED_DYNAMODB_ACCESS = {
    # take_lock and claim_next: UpdateItem of the user's aggregate row; read_lock, the poll of
    # a held lock: a consistent GetItem of it.
    "AcquireLockFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:GetItem", "AggregatesTable"),
    },
    # put_pending: TransactWriteItems of a ConditionCheck on the lock and a Put of the record
    # (ReturnValuesOnConditionCheckFailure needs no read permission).
    "PutTransactionFunction": {
        ("dynamodb:ConditionCheckItem", "AggregatesTable"),
        ("dynamodb:PutItem", "TransactionsTable"),
    },
    # commit: TransactWriteItems of two Updates, the aggregate row and the transaction record,
    # and two Puts, the ledger entry and its outbox event.
    "UpdateBalanceFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:UpdateItem", "TransactionsTable"),
        ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:PutItem", "OutboxTable"),
    },
    # delete_pending: DeleteItem; revert: TransactWriteItems of an Update and a Delete, and
    # the Puts of the reversing entry and its outbox event.
    "DeleteTransactionFunction": {
        ("dynamodb:DeleteItem", "TransactionsTable"),
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:PutItem", "OutboxTable"),
    },
    # The transfer saga: each user's take_lock, claim_next and poll, as AcquireLock's, and the
    # release of the first lock when the second cannot be had (UpdateItem).
    "AcquireLocksFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:GetItem", "AggregatesTable"),
    },
    # put_pending_transfer: a ConditionCheck on the source's lock and a Put of the record.
    "PutTransferFunction": {
        ("dynamodb:ConditionCheckItem", "AggregatesTable"),
        ("dynamodb:PutItem", "TransactionsTable"),
    },
    # commit_transfer: Updates of both aggregate rows and the record, Puts of both entries and
    # both events.
    "CommitTransferFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:UpdateItem", "TransactionsTable"),
        ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:PutItem", "OutboxTable"),
    },
    # delete_pending_record: a conditional DeleteItem.
    "DeleteTransferFunction": {("dynamodb:DeleteItem", "TransactionsTable")},
    # The reversal saga: the user's take_lock, claim_next and poll, as AcquireLock's.
    "AcquireReversalLockFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:GetItem", "AggregatesTable"),
    },
    # find_reversal: a consistent GetItem of the record; find_entry: a consistent Query of the
    # ledger; commit_reversal: TransactWriteItems of an Update of the aggregate row and Puts of
    # the record, the reversing entry and its event.
    "ReverseTransactionFunction": {
        ("dynamodb:GetItem", "TransactionsTable"),
        ("dynamodb:Query", "LedgerTable"),
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:PutItem", "TransactionsTable"),
        ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:PutItem", "OutboxTable"),
    },
    # find_balance: a consistent GetItem.
    "GetBalanceFunction": {("dynamodb:GetItem", "AggregatesTable")},
    # newest: a consistent Query of the ledger; the cursor key, once per sandbox.
    "GetTransactionsFunction": {
        ("dynamodb:Query", "LedgerTable"),
        ("secretsmanager:GetSecretValue", "CursorKeySecret"),
    },
    # applied_sequence: a Query of the newest days; summaries: a Query of the periods.
    "GetSummariesFunction": {("dynamodb:Query", "SummariesTable")},
    # apply: a Query of the newest days, then TransactWriteItems of two Updates (the hour, the
    # day).
    "ProjectSummariesFunction": {
        ("dynamodb:Query", "SummariesTable"),
        ("dynamodb:UpdateItem", "SummariesTable"),
    },
    # The outbox's forwarder reads no table itself: its event source mapping reads the stream.
    "ForwardEventsFunction": set(),
    # The hold saga: the lock as AcquireLock takes it.
    "AcquireHoldLockFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:GetItem", "AggregatesTable"),
    },
    # place_hold: TransactWriteItems of an Update of the row's holds and the Puts of the key's
    # record and the hold; a replay found when available is short: GetItem of the record.
    "PlaceHoldFunction": {
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:PutItem", "TransactionsTable"),
        ("dynamodb:GetItem", "TransactionsTable"),
        ("dynamodb:PutItem", "HoldsTable"),
    },
    # find_hold: GetItem; capture_hold: Updates of the row and the hold, Puts of the debit's
    # entry and its event.
    "CaptureHoldFunction": {
        ("dynamodb:GetItem", "HoldsTable"),
        ("dynamodb:UpdateItem", "HoldsTable"),
        ("dynamodb:UpdateItem", "AggregatesTable"),
        ("dynamodb:PutItem", "LedgerTable"),
        ("dynamodb:PutItem", "OutboxTable"),
    },
    # find_hold: GetItem; void_hold: Updates of the row and the hold.
    "VoidHoldFunction": {
        ("dynamodb:GetItem", "HoldsTable"),
        ("dynamodb:UpdateItem", "HoldsTable"),
        ("dynamodb:UpdateItem", "AggregatesTable"),
    },
    # find_hold: a consistent GetItem.
    "GetHoldFunction": {("dynamodb:GetItem", "HoldsTable")},
}

# Other requests the handlers make (recorded too): the forwarder's PutEvents on the stack's bus.
EXPECTED_OTHER_ACCESS = {"ForwardEventsFunction": {("events:PutEvents", "WalletEventBus")}}

# What a DynamoDB stream event source mapping does with its function's role: read the stream
# (ListStreams names no stream) and send a batch it gave up on to its on-failure queue.
STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)

# Wildcards that AWS requires. Step Functions' log delivery (CloudWatch Logs vended-log APIs) and
# X-Ray accept no resource-level permissions, so their documented policies use Resource "*".
STATE_MACHINE_WILDCARD_STATEMENTS = [
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
]
ALLOWED_WILDCARD_STATEMENTS = {
    "ForwardEventsFunctionRole": [{"dynamodb:ListStreams"}],
    "ProjectSummariesFunctionRole": [{"dynamodb:ListStreams"}],
    **{f"{machine}Role": STATE_MACHINE_WILDCARD_STATEMENTS for machine in STATE_MACHINES},
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
        if attribute == "StreamArn":
            return f"{name}.StreamArn"
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


def partitioned(arn: Any) -> str:
    """A managed policy's ARN, written as a string or as !Sub with ${AWS::Partition}."""
    if isinstance(arn, dict):
        return str(arn["Fn::Sub"]).replace("${AWS::Partition}", "aws")
    return str(arn)


def stream_mapping_needs(template: dict[str, Any], function: str) -> set[tuple[str, str]]:
    """What the stream event source mappings of `function` do with its role."""
    needs = set()
    for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values():
        properties = mapping["Properties"]
        if properties["FunctionName"] != {"Ref": function}:
            continue
        stream = resource_name(properties["EventSourceArn"])
        needs |= {(action, stream) for action in STREAM_READ_ACTIONS}
        needs.add(("dynamodb:ListStreams", "*"))
        on_failure = properties.get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            needs.add(("sqs:SendMessage", resource_name(on_failure["Destination"])))
    return needs


def test_only_the_expected_managed_policies_are_attached(transformed):
    roles = resources_of_type(transformed, "AWS::IAM::Role")
    function_role_names = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in resources_of_type(transformed, "AWS::Lambda::Function").values()
    }
    for name, role in roles.items():
        attached = [partitioned(arn) for arn in role["Properties"].get("ManagedPolicyArns", [])]
        if name in function_role_names:
            assert set(attached) == FUNCTION_MANAGED_POLICIES, name
        elif name == "ApiGatewayCloudWatchRole":
            assert attached == [partitioned(API_GATEWAY_LOGGING_POLICY)]
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
        assert grants(role) == (
            EXPECTED_DYNAMODB_ACCESS[name]
            | EXPECTED_OTHER_ACCESS.get(name, set())
            | stream_mapping_needs(transformed, name)
        ), name


@pytest.mark.parametrize(
    ("function", "stream_table", "dead_letter_queue"),
    [
        ("ForwardEventsFunction", "OutboxTable", "OutboxDeadLetterQueue"),
        ("ProjectSummariesFunction", "LedgerTable", "ProjectSummariesFailuresQueue"),
    ],
    ids=["events", "summaries"],
)
def test_a_stream_consumer_may_read_its_stream_and_dead_letter_only(
    transformed, function, stream_table, dead_letter_queue
):
    assert stream_mapping_needs(transformed, function) == {
        ("dynamodb:DescribeStream", f"{stream_table}.StreamArn"),
        ("dynamodb:GetRecords", f"{stream_table}.StreamArn"),
        ("dynamodb:GetShardIterator", f"{stream_table}.StreamArn"),
        ("dynamodb:ListStreams", "*"),
        ("sqs:SendMessage", dead_letter_queue),
    }


def test_a_function_without_a_stream_may_read_no_stream(transformed):
    assert stream_mapping_needs(transformed, "UpdateBalanceFunction") == set()


@dataclass
class Context:
    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 4000


# TransactWriteItems' item kinds and the IAM action each needs (ConditionCheck has its own).
ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


class DynamoDbRecorder:
    """Records the (IAM action, table) of every DynamoDB request, per function; and of every
    Secrets Manager request, (action, secret)."""

    def __init__(self) -> None:
        self.current = ""
        self.access: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.other: dict[str, set[tuple[str, str]]] = defaultdict(set)

    def record_put_events(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params["Entries"]:
            self.other[self.current].add(("events:PutEvents", entry["EventBusName"]))

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.service_model.service_name == "secretsmanager":
            self.access[self.current].add((f"secretsmanager:{model.name}", params["SecretId"]))
        elif model.name in ("TransactWriteItems", "TransactGetItems"):
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
    cold_start()
    with mock_aws():
        client = boto3.client("dynamodb")
        for table in template.tables.values():
            client.create_table(**table.create_table_request())
        for name in template.secrets:
            boto3.client("secretsmanager").create_secret(Name=name, SecretString="k" * 64)
        boto3.client("events").create_event_bus(Name=get_settings().event_bus_name)
        recorder = DynamoDbRecorder()
        dynamodb.client().meta.events.register("provide-client-params.dynamodb", recorder)
        secrets.client().meta.events.register("provide-client-params.secrets-manager", recorder)
        event_bus.client().meta.events.register(
            "provide-client-params.events.PutEvents", recorder.record_put_events
        )
        yield recorder
    cold_start()


def run_transfer(recorder: DynamoDbRecorder, owner: str) -> tuple[dict, str]:
    """The transfer saga's every path to DynamoDB: both locks taken (and, when the second is
    busy, the first freed), the record put, the commit, the compensation's delete."""
    body = json.dumps({"fromUserId": "t1", "toUserId": "t2", "amount": "10"})
    transfer = {**lock_input("t1", owner), "body": body, "idempotencyKey": "tk"}
    busy = {**transfer, "executionId": f"{owner}-2", "body": body.replace("t1", "t0")}
    acquired = recorder.run("AcquireLocksFunction", transfer)
    # Started 2 s before its wait runs out, counted from now: a slow first take (a loaded
    # machine) must not use up the time the second has to poll.
    busy["startedAt"] = lock_input("t0", owner, time.time() - get_settings().lock_wait_seconds + 2)[
        "startedAt"
    ]
    with pytest.raises(UserBusyError):
        recorder.run("AcquireLocksFunction", busy)  # t0 taken first, then t1 is busy
    put = recorder.run(
        "PutTransferFunction", {"request": acquired["request"], "executionId": owner}
    )
    committed = recorder.run(
        "CommitTransferFunction",
        {
            "request": acquired["request"],
            "locks": acquired["locks"],
            "transferId": put["transferId"],
            "createdAt": put["createdAt"],
            "executionId": owner,
        },
    )
    deleted = recorder.run(
        "DeleteTransferFunction",
        {"fromUserId": "t1", "idempotencyKey": "tk", "executionId": owner},
    )
    return deleted, committed["transfer"]["balance"]


def run_holds(recorder: DynamoDbRecorder, owner: str) -> list[Any]:
    """The hold saga's every path to DynamoDB: a hold placed, its replay once available is short
    (the key's record read), its capture, another hold's void, and GET /holds."""

    def step(operation: str, task: str, body: dict, key: str = "", hold_id: str = "") -> Any:
        taken = recorder.run(
            "AcquireHoldLockFunction",
            {**lock_input("h1", owner), "operation": operation, "body": json.dumps(body),
             "idempotencyKey": key, "holdId": hold_id},
        )  # fmt: skip
        return recorder.run(
            task, {"request": taken["request"], "lock": taken["lock"], "executionId": owner}
        )

    placed = step("place", "PlaceHoldFunction", {"userId": "h1", "amount": "90"}, "hk")
    replayed = step("place", "PlaceHoldFunction", {"userId": "h1", "amount": "90"}, "hk")
    hold_id = placed["hold"]["holdId"]
    captured = step("capture", "CaptureHoldFunction", {"userId": "h1"}, hold_id=hold_id)
    other = step("place", "PlaceHoldFunction", {"userId": "h1", "amount": "5"}, "hk2")
    voided = step("void", "VoidHoldFunction", {"userId": "h1"}, hold_id=other["hold"]["holdId"])
    get_event = api_event(f"/holds/{hold_id}", {"userId": "h1"})
    get_event["resource"] = "/holds/{holdId}"
    get_event["pathParameters"] = {"holdId": hold_id}
    found = recorder.run("GetHoldFunction", get_event)
    # Another execution waits in line for the lock this one holds, then gives up.
    waiting = lock_input("h1", f"{owner}-2", time.time() - get_settings().lock_wait_seconds + 2)
    body = json.dumps({"userId": "h1"})
    with pytest.raises(UserBusyError):
        recorder.run(
            "AcquireHoldLockFunction",
            {**waiting, "operation": "void", "body": body, "idempotencyKey": "", "holdId": "x"},
        )
    return [
        replayed["replayed"],
        captured["hold"]["balance"],
        voided["hold"]["status"],
        json.loads(found["body"])["status"],
    ]


def run_reversal(recorder: DynamoDbRecorder, owner: str) -> dict:
    """The reversal saga's every path to DynamoDB: the lock taken (and waited for), the record
    and the ledger read, the commit; of a credit of user r1 committed by the transaction's
    functions first, under the same lock."""
    acquired = recorder.run("AcquireLockFunction", lock_input("r1", owner, key="rk"))
    put = recorder.run(
        "PutTransactionFunction", {"request": acquired["request"], "executionId": owner}
    )
    committed = recorder.run(
        "UpdateBalanceFunction",
        {
            "request": acquired["request"],
            "balance": acquired["lock"]["balance"],
            "lastSequence": acquired["lock"]["lastSequence"],
            "holds": acquired["lock"]["holds"],
            "transactionId": put["transactionId"],
            "createdAt": put["createdAt"],
            "executionId": owner,
        },
    )
    body = json.dumps({"userId": "r1"})
    transaction_id = committed["transaction"]["transactionId"]
    reversal = {**lock_input("r1", owner), "body": body, "transactionId": transaction_id}
    acquired = recorder.run("AcquireReversalLockFunction", reversal)
    waiting = {**reversal, "executionId": f"{owner}-2"}
    waiting["startedAt"] = lock_input(
        "r1", owner, time.time() - get_settings().lock_wait_seconds + 2
    )["startedAt"]
    with pytest.raises(UserBusyError):
        recorder.run("AcquireReversalLockFunction", waiting)
    lock = acquired["lock"]
    return dict(
        recorder.run(
            "ReverseTransactionFunction",
            {
                "request": acquired["request"],
                "balance": lock["balance"],
                "lastSequence": lock["lastSequence"],
                "holds": lock["holds"],
                "executionId": owner,
            },
        )
    )


def test_handlers_make_exactly_the_expected_dynamodb_requests(recorder):
    """Every path that reaches DynamoDB: the saga, the revert of a committed record, the GET."""
    owner = "arn:aws:states:us-east-1:123456789012:express:TransactionStateMachine:e1:x"
    body = json.dumps({"userId": "u1", "ammount": "10", "type": "credit"})

    acquired = recorder.run("AcquireLockFunction", {**lock_input("u1", owner), "body": body})
    request, lock = acquired["request"], acquired["lock"]
    # Another execution waits in line for a while (polls, takes its place), then gives up.
    waiting = lock_input("u1", f"{owner}-2", time.time() - get_settings().lock_wait_seconds + 2)
    with pytest.raises(UserBusyError):
        recorder.run("AcquireLockFunction", waiting)
    put = recorder.run("PutTransactionFunction", {"request": request, "executionId": owner})
    committed = recorder.run(
        "UpdateBalanceFunction",
        {
            "request": request,
            "balance": lock["balance"],
            "lastSequence": lock["lastSequence"],
            "holds": lock["holds"],
            "transactionId": put["transactionId"],
            "createdAt": put["createdAt"],
            "executionId": owner,
        },
    )
    reverted = recorder.run(
        "DeleteTransactionFunction", {"userId": "u1", "idempotencyKey": "k1", "executionId": owner}
    )
    response = recorder.run("GetBalanceFunction", get_balance_event({"userId": "u1"}))
    # The third is the first of its day.
    entries = [ledger_entry("reader", sequence) for sequence in (1, 2)]
    entries.append(ledger_entry("reader", 3, created_at="2026-12-02T08:00:00.000Z"))
    projected = recorder.run("ProjectSummariesFunction", stream_event(entries))
    for entry in entries:
        put_ledger_entry(entry)
    history = recorder.run(
        "GetTransactionsFunction", api_event("/transactions", {"userId": "reader", "limit": "1"})
    )
    summaries = recorder.run(
        "GetSummariesFunction",
        api_event(
            "/summaries",
            {
                "userId": "reader",
                "period": "day",
                "from": "2026-12-01T00:00:00Z",
                "to": "2026-12-02T00:00:00Z",
            },
        ),
    )
    forwarded = recorder.run("ForwardEventsFunction", outbox_stream_event())
    transferred = run_transfer(recorder, owner)
    held = run_holds(recorder, owner)
    reversed_ = run_reversal(recorder, owner)

    assert projected == {"batchItemFailures": []}
    assert json.loads(history["body"])["nextCursor"]
    assert json.loads(summaries["body"])["asOfSequence"] == 3
    assert committed["transaction"]["balance"] == "110.00"
    assert reversed_["transaction"]["balance"] == "100.00"
    assert reverted == {"reverted": True}
    assert (response["statusCode"], json.loads(response["body"])["balance"]) == (200, "100.00")
    assert forwarded == {"batchItemFailures": []}
    assert transferred == ({"deleted": False}, "90.00")
    # The same execution placing again is its retried step: found, and no replay.
    assert held == [False, "10.00", "voided", "captured"]
    assert dict(recorder.access) == EXPECTED_DYNAMODB_ACCESS
    # Locally the bus is named after its logical id, as the tables are.
    assert {name: access for name, access in recorder.other.items() if access} == (
        EXPECTED_OTHER_ACCESS
    )


# The state machine and the API.


def test_state_machine_may_invoke_exactly_the_functions_and_tasks_of_the_asl(
    transformed, asl, machine
):
    role = transformed["Resources"][f"{machine}Role"]
    invoked = {placeholder.removesuffix("Arn") for placeholder in invoked_functions(asl).values()}
    # ${AggregatesTableName} is Ref AggregatesTable (test_template checks the substitutions).
    tasks = {(api, table.removesuffix("Name")) for api, table in dynamodb_tasks(asl).values()}

    assert trusted_services(role) == ["states.amazonaws.com"]
    invocable = {r for action, r in grants(role) if action == "lambda:InvokeFunction"}
    assert invocable == invoked
    assert {(a, r) for a, r in grants(role) if a.startswith("dynamodb:")} == tasks
    wildcard_actions = set().union(*STATE_MACHINE_WILDCARD_STATEMENTS)
    assert {action for action, _ in grants(role)} - {"lambda:InvokeFunction"} == (
        wildcard_actions | {api for api, _ in tasks}
    )


def test_api_role_may_only_start_sync_executions_of_this_stacks_state_machines(transformed):
    role = transformed["Resources"]["ApiStartSyncExecutionRole"]

    assert trusted_services(role) == ["apigateway.amazonaws.com"]
    assert grants(role) == {("states:StartSyncExecution", m) for m in STATE_MACHINES}


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

    for machine in STATE_MACHINES:
        assert trust_conditions(resources[f"{machine}Role"]) == [{"StringEquals": THIS_ACCOUNT}]
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
                # The ARN names the request's path: a path parameter matches any segment.
                route = re.sub(r"\{[^}/]+\}", "*", path)
                needed.add((function, f"{source}${{WalletApi}}/*/{method.upper()}{route}"))

    source = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WalletApi}"
    assert needed == {
        ("GetBalanceFunction", f"{source}/*/GET/balance"),
        ("GetTransactionsFunction", f"{source}/*/GET/transactions"),
        ("GetSummariesFunction", f"{source}/*/GET/summaries"),
        ("GetHoldFunction", f"{source}/*/GET/holds/*"),
    }
    assert granted == needed


# The deployer's policy in docs/deploy.md, against the permissions CloudFormation's handlers list.
#
# CloudFormation creates, reads, updates and deletes each resource with the deployer's
# credentials, through the resource type's handlers; each type's registry schema lists the IAM
# actions of each handler (cfn-lint ships the schemas). A schema lists them for all of the type's
# properties at once, so an action only some property can need is excused below, with the
# properties that must then be absent. Actions only: the policy's resources and conditions are not
# evaluated here, and nothing of this has met IAM.

HANDLERS = ("create", "read", "update", "delete")
# The stack SAM CLI creates on the first guided deploy in a region, with the deployer's
# credentials (samcli/lib/bootstrap/bootstrap.py): the artifacts bucket and its policy.
SAM_MANAGED_STACK = {
    "SamCliSourceBucket": {
        "Type": "AWS::S3::Bucket",
        "Properties": {"VersioningConfiguration": {"Status": "Enabled"}, "Tags": []},
    },
    "SamCliSourceBucketBucketPolicy": {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": {"Ref": "SamCliSourceBucket"}, "PolicyDocument": {}},
    },
}
# (type, properties that must be absent, the handler actions only they can need)
EXCUSED: list[tuple[str, tuple[str, ...], set[str]]] = [
    ("AWS::Lambda::Function", ("VpcConfig",), {
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
        "ec2:DescribeNetworkInterfaces",
    }),
    ("AWS::Lambda::Function", ("FileSystemConfigs",), {
        "elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets",
    }),
    ("AWS::Lambda::Function", ("KmsKeyArn",), {
        "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
    }),
    ("AWS::Lambda::Function", ("CodeSigningConfigArn",), {
        "lambda:GetCodeSigningConfig", "lambda:PutFunctionCodeSigningConfig",
        "lambda:DeleteFunctionCodeSigningConfig",
    }),
    ("AWS::Lambda::Function", ("ReservedConcurrentExecutions",), {
        "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
    }),
    ("AWS::Lambda::Function", ("RecursiveLoop",), {"lambda:PutFunctionRecursionConfig"}),
    ("AWS::Lambda::Function", ("RuntimeManagementConfig",), {"lambda:PutRuntimeManagementConfig"}),
    ("AWS::Lambda::Function", ("Layers",), {"lambda:GetLayerVersion"}),
    # Newer features; the schema does not say which of these properties needs which action.
    ("AWS::Lambda::Function", (
        "CapacityProviderConfig", "FunctionScalingConfig", "PublishToLatestPublished",
        "TenancyConfig", "DurableConfig", "SnapStart",
    ), {
        "lambda:PassCapacityProvider", "lambda:PutFunctionScalingConfig", "lambda:PublishVersion",
        "lambda:AssociateRuntimeAlias",
    }),
    ("AWS::Lambda::EventSourceMapping", ("KmsKeyArn",), {
        "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey",
    }),
    ("AWS::SecretsManager::Secret", ("ReplicaRegions",), {
        "secretsmanager:ReplicateSecretToRegions", "secretsmanager:RemoveRegionsFromReplication",
    }),
    ("AWS::StepFunctions::StateMachine", ("EncryptionConfiguration",), {
        "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt",
    }),
    # The AWS managed key (SSEEnabled without a key id) is usable by the account's principals
    # through DynamoDB by its key policy; a customer managed key needs these.
    ("AWS::DynamoDB::Table", ("SSESpecification.KMSMasterKeyId",), {
        "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListAliases",
        "kms:RevokeGrant",
    }),
    ("AWS::DynamoDB::Table", ("ImportSourceSpecification",), {
        "dynamodb:ImportTable", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:GetItem",
        "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
        "s3:GetObjectMetadata", "logs:CreateLogStream", "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    }),
    ("AWS::DynamoDB::Table", ("KinesisStreamSpecification",), {
        "dynamodb:EnableKinesisStreamingDestination", "dynamodb:DisableKinesisStreamingDestination",
        "dynamodb:UpdateKinesisStreamingDestination", "kinesis:DescribeStream",
        "kinesis:PutRecords",
    }),
    ("AWS::DynamoDB::Table", ("ContributorInsightsSpecification",), {
        "dynamodb:UpdateContributorInsights", "iam:CreateServiceLinkedRole",
    }),
    ("AWS::DynamoDB::Table", ("ResourcePolicy",), {
        "dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy",
    }),
    # Replicas (multi-Region tables): no property of this template's tables asks for one.
    ("AWS::DynamoDB::Table", (), {"dynamodb:CreateTableReplica", "dynamodb:AssociateTableReplica"}),
    # The event bus is encrypted with an AWS owned key unless it names one of the account's.
    ("AWS::Events::EventBus", ("KmsKeyIdentifier",), {
        "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt", "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    }),
    # A mapping's filter criteria are encrypted with an AWS owned key unless it names one.
    ("AWS::Lambda::EventSourceMapping", ("KMSKeyArn",), {
        "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey",
    }),
    ("AWS::Logs::LogGroup", ("DataProtectionPolicy",), {"logs:PutDataProtectionPolicy"}),
    ("AWS::Logs::LogGroup", ("FieldIndexPolicies",), {
        "logs:PutIndexPolicy", "logs:DeleteIndexPolicy",
    }),
    ("AWS::Logs::LogGroup", ("KmsKeyId",), {"logs:AssociateKmsKey", "logs:DisassociateKmsKey"}),
    ("AWS::Logs::LogGroup", ("BearerTokenAuthenticationEnabled",), {
        "logs:PutBearerTokenAuthentication",
    }),
    ("AWS::Logs::LogGroup", ("DeletionProtectionEnabled",), {"logs:PutLogGroupDeletionProtection"}),
    ("AWS::Logs::LogGroup", ("ResourcePolicyDocument",), {"logs:DeleteResourcePolicy"}),
    ("AWS::Logs::LogGroup", ("LogGroupClass",), {
        "firehose:TagDeliveryStream", "s3:REST.PUT.OBJECT",
    }),
    ("AWS::IAM::Role", ("PermissionsBoundary",), {
        "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
    }),
    ("AWS::IAM::Role", ("MaxSessionDuration",), {"iam:UpdateRole"}),
    ("AWS::IAM::Role", ("Description",), {"iam:UpdateRoleDescription"}),
    ("AWS::ApiGateway::RestApi", ("Policy",), {"apigateway:UpdateRestApiPolicy"}),
    ("AWS::S3::Bucket", ("AccessControl",), {"s3:PutBucketAcl", "s3:PutObjectAcl"}),
    ("AWS::S3::Bucket", ("BucketEncryption",), {"s3:DeleteBucketEncryption"}),
    ("AWS::S3::Bucket", ("AbacStatus",), {"s3:PutBucketAbac"}),
    ("AWS::S3::Bucket", ("AccelerateConfiguration",), {"s3:PutAccelerateConfiguration"}),
    ("AWS::S3::Bucket", ("AnalyticsConfigurations",), {
        "s3:PutAnalyticsConfiguration", "s3:DeleteBucketAnalyticsConfiguration",
    }),
    ("AWS::S3::Bucket", ("CorsConfiguration",), {"s3:PutBucketCORS", "s3:DeleteBucketCors"}),
    ("AWS::S3::Bucket", ("IntelligentTieringConfigurations",), {
        "s3:PutIntelligentTieringConfiguration",
    }),
    ("AWS::S3::Bucket", ("InventoryConfigurations",), {"s3:PutInventoryConfiguration"}),
    ("AWS::S3::Bucket", ("LifecycleConfiguration",), {
        "s3:PutLifecycleConfiguration", "s3:DeleteBucketLifecycle",
    }),
    ("AWS::S3::Bucket", ("LoggingConfiguration",), {"s3:PutBucketLogging"}),
    ("AWS::S3::Bucket", ("MetricsConfigurations",), {
        "s3:PutMetricsConfiguration", "s3:DeleteBucketMetricsConfiguration",
    }),
    ("AWS::S3::Bucket", ("NotificationConfiguration",), {"s3:PutBucketNotification"}),
    ("AWS::S3::Bucket", ("ObjectLockConfiguration", "ObjectLockEnabled"), {
        "s3:PutBucketObjectLockConfiguration", "s3:PutObjectLockConfiguration",
    }),
    ("AWS::S3::Bucket", ("OwnershipControls",), {"s3:PutBucketOwnershipControls"}),
    ("AWS::S3::Bucket", ("ReplicationConfiguration",), {
        "s3:PutBucketReplication", "s3:PutReplicationConfiguration", "s3:DeleteBucketReplication",
    }),
    ("AWS::S3::Bucket", ("WebsiteConfiguration",), {
        "s3:PutBucketWebsite", "s3:DeleteBucketWebsite",
    }),
    ("AWS::S3::Bucket", ("MetadataTableConfiguration", "MetadataConfiguration"), {
        "s3:CreateBucketMetadataTableConfiguration", "s3:DeleteBucketMetadataTableConfiguration",
        "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        "s3:UpdateBucketMetadataInventoryTableConfiguration",
        "s3:UpdateBucketMetadataJournalTableConfiguration", "s3tables:CreateNamespace",
        "s3tables:CreateTable", "s3tables:CreateTableBucket", "s3tables:GetTable",
        "s3tables:GetTableMetadataLocation", "s3tables:PutTableBucketPolicy",
        "s3tables:PutTableEncryption", "s3tables:PutTablePolicy",
        "s3tables:UpdateTableMetadataLocation",
    }),
]  # fmt: skip


def handler_permissions(resource_type: str) -> dict[str, set[str]]:
    """Handler -> IAM actions, from the registry schema cfn-lint ships for us-east-1."""
    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    schema = json.loads((schemas / "resources" / f"{index[resource_type]}.json").read_text())
    handlers = schema.get("handlers", {})
    return {name: set(handlers.get(name, {}).get("permissions", [])) for name in HANDLERS}


def has_property(properties: dict[str, Any], path: str) -> bool:
    node: Any = properties
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def deployer_policy(text: str) -> dict[str, Any]:
    section = text.split("## Permissions the deployer needs", 1)[1]
    return json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])


def allowed_actions(policy: dict[str, Any]) -> list[str]:
    return [
        action
        for statement in as_list(policy["Statement"])
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    ]


def deployer_gaps(resources: dict[str, dict[str, Any]], policy: dict[str, Any]) -> dict[str, set]:
    """Resource type -> handler actions the policy does not allow (IAM action names are not
    case sensitive; `*` and `?` match as in IAM)."""
    allowed = [action.lower() for action in allowed_actions(policy)]
    gaps = {}
    for resource_type in sorted({r["Type"] for r in resources.values()}):
        of_type = [r for r in resources.values() if r["Type"] == resource_type]
        permissions = handler_permissions(resource_type)
        # CloudFormation never deletes a retained resource, nor SAM CLI its managed stack.
        if all(r.get("DeletionPolicy") == "Retain" for r in of_type) or of_type[0] in (
            SAM_MANAGED_STACK.values()
        ):
            permissions["delete"] = set()
        needed = set().union(*permissions.values())
        for excused_type, _, actions in EXCUSED:
            if excused_type == resource_type:
                needed -= actions
        missing = {
            action
            for action in needed
            if not any(fnmatch.fnmatchcase(action.lower(), pattern) for pattern in allowed)
        }
        if missing:
            gaps[resource_type] = missing
    return gaps


@pytest.fixture(scope="module")
def deployed_resources(packaged, transformed) -> dict[str, dict[str, Any]]:
    """Every resource CloudFormation handles for `make deploy`, with either parameter value."""
    other = transform(packaged, ApiAuthorization="NONE", ManageApiGatewayAccount="false")
    return {**transformed["Resources"], **other["Resources"], **SAM_MANAGED_STACK}


def test_every_excused_action_is_one_only_absent_properties_need(deployed_resources):
    for resource_type, absent, actions in EXCUSED:
        of_type = [r for r in deployed_resources.values() if r["Type"] == resource_type]
        listed = set().union(*handler_permissions(resource_type).values())

        assert of_type, resource_type
        assert actions <= listed, (resource_type, actions - listed)  # no stale excuse
        for resource in of_type:
            present = [p for p in absent if has_property(resource.get("Properties", {}), p)]
            assert present == [], (resource_type, present)


def test_the_deployer_policy_allows_every_handler_action_the_stack_needs(deployed_resources):
    policy = deployer_policy(DEPLOY_DOC.read_text())

    assert deployer_gaps(deployed_resources, policy) == {}


def test_a_missing_read_action_is_a_gap(deployed_resources):
    """lambda:GetRuntimeManagementConfig: the Lambda read handler's, which runs after every
    create and update; the policy once lacked it."""
    policy = deployer_policy(DEPLOY_DOC.read_text())
    for statement in policy["Statement"]:
        actions = as_list(statement["Action"])
        statement["Action"] = [a for a in actions if a != "lambda:GetRuntimeManagementConfig"]

    gaps = deployer_gaps(deployed_resources, policy)

    assert gaps == {"AWS::Lambda::Function": {"lambda:GetRuntimeManagementConfig"}}
