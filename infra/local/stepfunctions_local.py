"""Creates the template's state machine on any Step Functions endpoint (Step Functions Local).

`python -m infra.local.stepfunctions_local --endpoint http://127.0.0.1:8083` creates it (or finds
it, when the same definition is already there) and prints its ARN. The definition is the one
`make run` runs: the template's ASL with its `DefinitionSubstitutions`, so each Lambda task names
a function of the template, which the endpoint reaches through the Lambda API of this runtime
(infra/stepfunctions-local/compose.yaml points Step Functions Local at `LAMBDA_PORT=3001`).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from infra.local.aws import LOCAL_ENVIRONMENT, REGION, STATE_MACHINE, STATE_MACHINE_ROLE
from infra.local.template import TEMPLATE_PATH, Template

if TYPE_CHECKING:
    from types_boto3_stepfunctions import SFNClient

# Step Functions Local refuses connections for its first seconds.
STARTUP_SECONDS = 30.0


def stepfunctions_client(endpoint_url: str) -> SFNClient:
    """A client for `endpoint_url`; TestState and StartSyncExecution are sent to it, not to
    `sync-` + its host as botocore would (no such name resolves locally)."""
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION", REGION),
        aws_access_key_id=os.environ.get(
            "AWS_ACCESS_KEY_ID", LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"]
        ),
        aws_secret_access_key=os.environ.get(
            "AWS_SECRET_ACCESS_KEY", LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"]
        ),
        config=Config(inject_host_prefix=False, retries={"mode": "standard"}),
    )


def create_state_machine(
    client: Any,
    template: Template | None = None,
    name: str = STATE_MACHINE,
    type_: str | None = None,
    startup_seconds: float = STARTUP_SECONDS,
) -> str:
    """The ARN of the template's state machine on `client`'s endpoint, created if missing."""
    spec = (template or Template.load(TEMPLATE_PATH, REGION)).state_machines[STATE_MACHINE]
    request = {
        "name": name,
        "definition": spec.definition,
        "roleArn": STATE_MACHINE_ROLE,
        "type": type_ or spec.type,
    }
    deadline = time.monotonic() + startup_seconds
    while True:
        try:
            return str(client.create_state_machine(**request)["stateMachineArn"])
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the Step Functions endpoint URL")
    parser.add_argument("--name", default=STATE_MACHINE, help="the state machine's name")
    parser.add_argument("--type", choices=("EXPRESS", "STANDARD"), help="default: the template's")
    args = parser.parse_args(argv)
    try:
        arn = create_state_machine(
            stepfunctions_client(args.endpoint), name=args.name, type_=args.type
        )
    except (ClientError, EndpointConnectionError) as error:
        raise SystemExit(
            f"could not create the state machine on {args.endpoint}: {error}"
        ) from None
    print(arn)


if __name__ == "__main__":
    main()
