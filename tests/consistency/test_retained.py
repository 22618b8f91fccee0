"""What `make destroy` leaves behind is what the template retains, as its help and the docs say."""

import re

from tests.consistency.conftest import ROOT, load_template

NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def retained(resource_type: str) -> list[str]:
    resources = load_template()["Resources"]
    return sorted(
        name
        for name, resource in resources.items()
        if resource["Type"] == resource_type and resource.get("DeletionPolicy") == "Retain"
    )


def destroy_help() -> str:
    makefile = (ROOT / "Makefile").read_text()
    [line] = re.findall(r"^destroy:.*## (.*)$", makefile, re.M)
    return line


def test_the_retained_resources_are_the_tables_and_the_logging_role():
    assert len(retained("AWS::DynamoDB::Table")) in NUMBERS
    assert retained("AWS::IAM::Role") == ["ApiGatewayCloudWatchRole"]


def test_make_destroy_says_how_many_tables_stay():
    tables = NUMBERS[len(retained("AWS::DynamoDB::Table"))]

    assert f"{tables} DynamoDB tables" in destroy_help()
    assert "log role stay" in destroy_help()


def test_the_readme_says_how_many_tables_stay():
    readme = (ROOT / "README.md").read_text()
    [line] = [line for line in readme.splitlines() if line.startswith("make destroy ")]

    assert f"the {NUMBERS[len(retained('AWS::DynamoDB::Table'))]} DynamoDB tables" in line


def test_the_deploy_doc_names_every_retained_table_where_destroy_and_rollback_leave_them():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    tables = retained("AWS::DynamoDB::Table")
    count = NUMBERS[len(tables)]
    destroy = doc[doc.index("`make destroy` runs") :]
    destroy = destroy[: destroy.index("\n\n")]
    rollback = doc[doc.index("Resources with `DeletionPolicy: Retain` survive") :]
    rollback = rollback[: rollback.index("\n- ")]

    assert f"leaves the {count} DynamoDB tables" in destroy
    assert all(f"`{table}`" in destroy for table in tables)
    assert f"the {count} tables" in rollback
    assert all(f"`<stack>-{table}-...`" in rollback for table in tables)
    for wrong in set(NUMBERS.values()) - {count}:
        assert f"{wrong} tables" not in destroy + rollback
