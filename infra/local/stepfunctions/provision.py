"""Creates the template's state machines on any Step Functions endpoint (Step Functions Local).

`python -m infra.local.stepfunctions.provision --endpoint http://127.0.0.1:8083` creates each (or
finds it, when the same definition is already there) and prints its ARN; `--name` one only. The
definition is the one `make run` runs: the template's ASL with its `DefinitionSubstitutions`, so
each Lambda task names a function of the template, which the endpoint reaches through the Lambda
API of this runtime (infra/stepfunctions-local/compose.yaml points Step Functions Local at
`LAMBDA_PORT=3001`).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from infra.local.cloudformation.template import TEMPLATE_PATH, Template
from infra.local.runtime import LOCAL_ENVIRONMENT, REGION

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
    logical_id: str,
    template: Template | None = None,
    name: str | None = None,
    type_: str | None = None,
    startup_seconds: float = STARTUP_SECONDS,
) -> str:
    """The ARN of the template's state machine `logical_id` on `client`'s endpoint (under `name`,
    by default its logical id), created if missing."""
    spec = (template or Template.load(TEMPLATE_PATH, REGION)).state_machines[logical_id]
    request = {
        "name": name or logical_id,
        "definition": spec.definition,
        "roleArn": spec.role_arn,
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
    parser.add_argument(
        "--name", help="the logical id of one state machine (default: each of the template's)"
    )
    parser.add_argument("--type", choices=("EXPRESS", "STANDARD"), help="default: the template's")
    args = parser.parse_args(argv)
    template = Template.load(TEMPLATE_PATH, REGION)
    if args.name is not None and args.name not in template.state_machines:
        known = ", ".join(template.state_machines)
        raise SystemExit(f"the template has no state machine {args.name!r} (it has {known})")
    client = stepfunctions_client(args.endpoint)
    for logical_id in [args.name] if args.name else list(template.state_machines):
        try:
            arn = create_state_machine(client, logical_id, template, type_=args.type)
        except (ClientError, EndpointConnectionError) as error:
            raise SystemExit(
                f"could not create the state machine {logical_id} on {args.endpoint}: {error}"
            ) from None
        print(arn)


if __name__ == "__main__":
    main()
