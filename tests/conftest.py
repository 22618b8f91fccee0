"""Fake AWS credentials and region, Powertools settings, and the shared fixtures of every tier."""

import os
import sys
from collections.abc import Iterator

import pytest

# Set before anything imports boto3 or moto (moto's documented setup).
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "wallet",
        "POWERTOOLS_METRICS_NAMESPACE": "Wallet",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)

# moto adds its botocore hook to botocore's built-in handlers when imported, and a boto3 session
# copies them when it is created: a client built before moto's import is never mocked. The
# handler modules build their clients at import, and a test module may import one at collection.
import moto  # noqa: F401


@pytest.fixture
def lambda_context():
    """Lambda's context object, for calling a handler directly."""
    from tests.builders import LambdaContext

    return LambdaContext()


@pytest.fixture
def local_aws():
    """The embedded runtime: moto with the template's tables, functions and state machine."""
    from infra.local.runtime import LocalAws

    with LocalAws() as aws:
        yield aws


@pytest.fixture
def forced_switching() -> Iterator[None]:
    """Switch threads as often as the interpreter can, so that races show; restored after."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)
