"""The AWS CLI and boto3, in processes of their own, on the endpoints of `make run`'s process:
the state they read and write is the one the wallet API serves."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests

from infra.local.cloudformation.template import Template
from tests.builders import get_balance_event, transaction_body
from tests.endpoint.conftest import aws_cli, aws_cli_json, boto3_process

HAPPY_PATH = [
    "AcquireLock",
    "PutTransaction",
    "IsReplay",
    "UpdateBalance",
    "ReleaseLock",
    "TransactionSucceeded",
]


def post_credit(api: str, user_id: str, key: str, amount: str = "10") -> requests.Response:
    response = requests.post(
        f"{api}/transactions",
        data=transaction_body(user_id, amount),
        headers={"Content-Type": "application/json", "Idempotent-Key": key},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return response


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_cli_lists_the_tables_and_scans_a_transaction_posted_to_the_api(make_run):
    user = new_user()
    posted = post_credit(make_run.api, user, "k1").json()

    tables = aws_cli_json(make_run.aws, "dynamodb", "list-tables")["TableNames"]
    items = aws_cli_json(
        make_run.aws,
        "dynamodb",
        "scan",
        "--table-name",
        "TransactionsTable",
        "--filter-expression",
        "userId = :u",
        "--expression-attribute-values",
        json.dumps({":u": {"S": user}}),
    )["Items"]

    assert set(tables) == set(Template.load().tables)
    [item] = items
    assert item["transactionId"]["S"] == posted["transactionId"]
    assert item["status"]["S"] == "COMMITTED"


def test_cli_lists_executions_and_reads_the_history_of_a_post(make_run):
    post_credit(make_run.api, new_user(), "k1")

    listed_machines = aws_cli_json(make_run.aws, "stepfunctions", "list-state-machines")
    [machine] = [
        m for m in listed_machines["stateMachines"] if m["name"] == "TransactionStateMachine"
    ]
    listed = aws_cli_json(
        make_run.aws,
        "stepfunctions",
        "list-executions",
        "--state-machine-arn",
        machine["stateMachineArn"],
    )["executions"]
    newest = max(listed, key=lambda execution: execution["startDate"])
    history = aws_cli_json(
        make_run.aws,
        "stepfunctions",
        "get-execution-history",
        "--execution-arn",
        newest["executionArn"],
    )["events"]

    assert newest["status"] == "SUCCEEDED"
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered == HAPPY_PATH


def test_boto3_in_another_process_writes_a_balance_that_get_balance_answers(make_run):
    user = new_user()
    boto3_process(
        make_run.aws,
        f"""
client("dynamodb").put_item(TableName="AggregatesTable",
                            Item={{"userId": {{"S": "{user}"}}, "balance": {{"N": "555.25"}}}})
result = None""",
    )

    balance = requests.get(f"{make_run.api}/balance", params={"userId": user}, timeout=30).json()

    assert balance["balance"] == "555.25"


def test_boto3_in_another_process_reads_what_a_post_wrote(make_run):
    user = new_user()
    post_credit(make_run.api, user, "k1", amount="2.50")

    item = boto3_process(
        make_run.aws,
        f"""
key = {{"userId": {{"S": "{user}"}}}}
result = client("dynamodb").get_item(TableName="AggregatesTable", Key=key, ConsistentRead=True)
result = result["Item"]""",
    )

    assert item["balance"] == {"N": "102.50"}
    assert "lockOwner" not in item


def test_cli_invokes_the_real_handlers(make_run, tmp_path: Path):
    balance_out, failure_out = tmp_path / "balance.json", tmp_path / "failure.json"
    event = json.dumps(get_balance_event({"userId": "someone"}))
    invalid = json.dumps({"body": "not json", "idempotencyKey": "k"})
    invoked = aws_cli_json(
        make_run.aws,
        "lambda",
        "invoke",
        "--function-name",
        "GetBalanceFunction",
        "--payload",
        event,
        str(balance_out),
    )
    failed = aws_cli_json(
        make_run.aws,
        "lambda",
        "invoke",
        "--function-name",
        "AcquireLockFunction",
        "--payload",
        invalid,
        str(failure_out),
    )

    assert invoked["StatusCode"] == 200 and "FunctionError" not in invoked
    assert json.loads(json.loads(balance_out.read_text())["body"])["balance"] == "100.00"
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failure_out.read_text())["errorType"] == "ValidationError"


def test_cli_invoking_an_unknown_function_is_resource_not_found(make_run, tmp_path: Path):
    completed = aws_cli(
        make_run.aws,
        "lambda",
        "invoke",
        "--function-name",
        "NoSuchFunction",
        str(tmp_path / "out.json"),
        check=False,
    )

    assert completed.returncode == 255
    assert "(ResourceNotFoundException)" in completed.stderr
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction" in (
        completed.stderr
    )


def test_lambda_port_serves_invoke_as_sam_local_start_lambda(make_run):
    result = boto3_process(
        make_run.lambda_api,
        """
response = client("lambda").invoke(
    FunctionName="DeleteTransactionFunction",
    Payload=b'{"userId": "nobody", "idempotencyKey": "k", "executionId": "e"}')
try:
    client("dynamodb").list_tables()
    refused = None
except Exception as error:
    refused = error.response["Error"]["Code"]
result = {"status": response["StatusCode"], "error": response.get("FunctionError"),
          "refused": refused}""",
    )

    assert result == {"status": 200, "error": None, "refused": "UnknownOperationException"}


def test_cli_test_state_with_a_mocked_error(make_run):
    definition = Template.load().state_machines["TransactionStateMachine"].definition
    answer = aws_cli_json(
        make_run.aws,
        "stepfunctions",
        "test-state",
        "--definition",
        definition,
        "--state-name",
        "AcquireLock",
        "--input",
        '{"body": "{\\"userId\\": \\"u\\"}", "idempotencyKey": "k"}',
        "--mock",
        '{"errorOutput": {"error": "UserBusyError", "cause": "held"}}',
        "--state-configuration",
        '{"retrierRetryCount": 4}',
        "--inspection-level",
        "DEBUG",
    )

    assert answer["status"] == "CAUGHT_ERROR"
    assert answer["nextState"] == "ReadRequestAfterFailure"
    caught = json.loads(answer["inspectionData"]["variables"])["error"]
    assert caught == {"Error": "UserBusyError", "Cause": "held"}
    assert json.loads(answer["output"]) == {"body": '{"userId": "u"}', "idempotencyKey": "k"}


def test_malformed_and_unknown_requests_get_aws_error_shapes(make_run):
    json_headers = {"Content-Type": "application/x-amz-json-1.0"}
    not_json = requests.post(
        make_run.aws,
        data="{not json",
        headers={**json_headers, "X-Amz-Target": "DynamoDB_20120810.Scan"},
        timeout=30,
    )
    no_target = requests.post(make_run.aws, data="{}", headers=json_headers, timeout=30)
    unknown_operation = aws_cli(
        make_run.aws, "dynamodb", "list-contributor-insights", check=False
    )  # moto has no ListContributorInsights
    missing_table = aws_cli(
        make_run.aws, "dynamodb", "scan", "--table-name", "NoSuchTable", check=False
    )

    assert not_json.status_code == 400
    assert not_json.json()["__type"] == "SerializationException"
    assert no_target.status_code == 400
    assert no_target.json()["__type"] == "UnknownOperationException"
    assert unknown_operation.returncode == 255
    assert "(UnknownOperationException)" in unknown_operation.stderr, unknown_operation.stderr
    assert missing_table.returncode == 255
    assert "(ResourceNotFoundException)" in missing_table.stderr
    # and the endpoint still serves
    assert (
        "TransactionsTable" in aws_cli_json(make_run.aws, "dynamodb", "list-tables")["TableNames"]
    )


def test_boto3_in_another_process_reads_the_stream_and_uses_eventbridge_and_sqs(make_run):
    user = new_user()
    post_credit(make_run.api, user, "k1")

    result = boto3_process(
        make_run.aws,
        f"""
streams = client("dynamodbstreams")
listed = dict((s["TableName"], s["StreamArn"]) for s in streams.list_streams()["Streams"])
# The runtime's consumers read the ledger's records, and trim them once read: what is left after
# the commit's record is the shard's end, where a LATEST iterator reads nothing new.
shards = streams.describe_stream(StreamArn=listed["LedgerTable"])["StreamDescription"]["Shards"]
iterator = streams.get_shard_iterator(StreamArn=listed["LedgerTable"],
                                      ShardId=shards[0]["ShardId"],
                                      ShardIteratorType="LATEST")["ShardIterator"]
records = streams.get_records(ShardIterator=iterator)["Records"]
buses = [bus["Name"] for bus in client("events").list_event_buses()["EventBuses"]]
sqs = client("sqs")
url = sqs.create_queue(QueueName="{user}")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="hello")
received = sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]
result = {{"streams": sorted(listed), "records": records, "buses": buses, "received": received}}""",
    )

    # The stack's own bus, created from the template, beside the default one.
    assert result == {
        "streams": ["LedgerTable", "OutboxTable"],
        "records": [],
        "buses": ["default", "WalletEventBus"],
        "received": "hello",
    }
