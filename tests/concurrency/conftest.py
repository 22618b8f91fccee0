"""The races' interpreter setting: a thread switch after every microsecond of bytecode."""

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def forced_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)
