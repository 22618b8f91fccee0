"""Unit tests touch no network: sockets are blocked."""

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("unit tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
