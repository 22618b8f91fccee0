"""The embedded runtime itself: what the reliability figures rely on."""

from tests.invariants import balance_of


def test_each_dynamodb_request_runs_exactly_once(local_aws):
    """Regression: botocore calls every before-send handler even after one has answered, so
    moto's own stubber ran each DynamoDB request a second time, outside the runtime's lock (an
    increment added 2; under load moto's tables raced and executions failed at random)."""
    local_aws.dynamodb.put_item(
        TableName="AggregatesTable",
        Item={"userId": {"S": "counter"}, "balance": {"N": "0"}},
    )
    local_aws.dynamodb.update_item(
        TableName="AggregatesTable",
        Key={"userId": {"S": "counter"}},
        UpdateExpression="SET balance = balance + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    assert balance_of(local_aws.dynamodb, "counter") == 1
    assert local_aws.dynamodb_requests["UpdateItem"] == 1
