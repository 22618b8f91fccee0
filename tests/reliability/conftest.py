"""Fixtures of the reliability tests."""

import sys

import pytest


@pytest.fixture
def forced_switching():
    """Switch threads as often as the interpreter can, so that races show; restored after."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)
