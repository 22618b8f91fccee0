"""make rebuild-summaries: recompute the summaries projection from the ledger, report every
difference, and repair it (the path back after the stream's 24 h retention ran out, records went
to the consumer's failure queue, or a bug in the consumer was fixed).

    python -m infra.rebuild --stack wallet            # tables from the stack's outputs
    python -m infra.rebuild --ledger-table L --summaries-table S --check-only

Safe while the consumer runs: each user is written only if the consumer has not moved that
user's progress on since the rebuild read it, and is read again otherwise (the consumer then
skips the entries the rebuild applied, as redeliveries). Exit status: 0 when the projection
equals the ledger (after repair), 1 when --check-only found a difference.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from functions.domain.queries import rebuild_summaries
from functions.repositories.ledger import LedgerRepository
from functions.repositories.summaries import SummariesRepository

NO_REGION = (
    "no AWS region: pass --region or set AWS_REGION (make rebuild-summaries passes the region "
    "make deploy saved in infra/samconfig.toml)"
)


def stack_tables(cloudformation: Any, stack: str) -> tuple[str, str]:
    """The ledger and summaries table names from the stack's outputs.

    Raises: SystemExit naming the output the stack lacks, or why the stack cannot be read.
    """
    try:
        [description] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    # No such stack (ValidationError), no permission, no credentials, no network, ...
    except (ClientError, BotoCoreError) as error:
        raise SystemExit(f"stack {stack} cannot be read: {error}") from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    missing = [k for k in ("LedgerTableName", "SummariesTableName") if k not in outputs]
    if missing:
        raise SystemExit(f"stack {stack} has no output {', '.join(missing)}: deploy it first")
    return outputs["LedgerTableName"], outputs["SummariesTableName"]


def main(argv: list[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.rebuild",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="read the table names from this stack's outputs")
    parser.add_argument("--ledger-table")
    parser.add_argument("--summaries-table")
    parser.add_argument("--region")
    parser.add_argument("--user", action="append", dest="users", help="only this user (repeat)")
    parser.add_argument("--check-only", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    if not (args.stack or (args.ledger_table and args.summaries_table)):
        parser.error("give --stack, or both --ledger-table and --summaries-table")
    session = session or boto3.session.Session(region_name=args.region)
    try:
        cloudformation, client = session.client("cloudformation"), session.client("dynamodb")
    except NoRegionError as error:
        raise SystemExit(NO_REGION) from error
    if args.stack:
        ledger_table, summaries_table = stack_tables(cloudformation, args.stack)
    else:
        ledger_table, summaries_table = args.ledger_table, args.summaries_table
    try:
        report = rebuild_summaries(
            LedgerRepository(client, ledger_table),
            SummariesRepository(client, summaries_table),
            repair=not args.check_only,
            users=args.users,
        )
    except (ClientError, BotoCoreError) as error:
        # Each user is repaired on its own, conditionally: what was written stays right.
        raise SystemExit(f"the rebuild stopped: {error} (run it again to go on)") from error
    for user, lines in sorted(report.differing.items()):
        print(f"user {user!r}: {len(lines)} difference(s)")
        for line in lines:
            print(f"  {line}")
    action = "checked only" if args.check_only else f"{report.repaired} repaired"
    print(f"{report.users} users, {len(report.differing)} differing, {action}, "
          f"{report.retries} re-read after the consumer moved on")  # fmt: skip
    return 1 if args.check_only and report.differing else 0


if __name__ == "__main__":
    sys.exit(main())
