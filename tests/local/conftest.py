"""The runtime's own tests, grouped as infra/local is: by the AWS service each module stands in
for. They run it in this process: no socket is opened (the servers are tests/endpoint's)."""

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("the runtime's tests must not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
