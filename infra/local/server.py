"""The local HTTP server: a threaded werkzeug server over LocalGateway and LocalAws, with the
execution view (infra/console) on the same port under /_console/, a prefix that no path of
infra/openapi.yaml starts with (tests/contract checks it), so it cannot hide an API route."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request

from functions.settings import Settings
from infra.console.app import PREFIX as CONSOLE_PREFIX
from infra.console.app import Console
from infra.console.source import Executions, outbox_events
from infra.local.aws import STATE_MACHINE, LocalAws
from infra.local.gateway import LocalGateway

log = logging.getLogger("local_api")


class _RequestLog:
    """One line per request: method, path, status and time taken (not the view's live polls)."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        request = Request(environ)
        status: list[str] = []
        request_ids: list[str] = []

        def recording_start_response(code: str, headers: Any, *args: Any) -> Any:
            status.append(code)
            request_ids.extend(v for k, v in headers if k.lower() == "x-amzn-requestid")
            return start_response(code, headers, *args)

        result = self._app(environ, recording_start_response)
        if request.path.endswith("/live") and request.path.startswith(CONSOLE_PREFIX):
            return result
        elapsed = (time.perf_counter() - started) * 1000
        # An execution's answer names where to see it (the GET starts none).
        seen_at = ""
        if request.method == "POST" and request_ids:
            seen_at = f" {request.host_url.rstrip('/')}{CONSOLE_PREFIX}/requests/{request_ids[0]}"
        log.info("%s %s -> %s (%.0f ms)%s", request.method, request.full_path.rstrip("?"),
                 status[0] if status else "?", elapsed, seen_at)  # fmt: skip
        return result


class _Dispatch:
    """/_console/ to the execution view, everything else to the API."""

    def __init__(self, api: LocalGateway, console: Console) -> None:
        self._api = api
        self._console = console

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            return self._console(environ, start_response)
        return self._api(environ, start_response)


def console_of(aws: LocalAws) -> Console:
    """The execution view over the runtime's Step Functions and its recorder; the events an
    execution published are the items it put, with its commit, into an outbox table (one whose
    logical id says so: the ledger, whose stream is published, or an outbox of its own)."""
    definition = json.loads(aws.template.state_machines[STATE_MACHINE].definition)
    outboxes = [name for name in aws.template.tables if re.search("Outbox|Ledger", name)]
    executions = Executions(
        aws.stepfunctions, aws.state_machine_arn, aws.recorder, outbox_events(outboxes),
        request_index=aws.execution_arn,
    )  # fmt: skip
    return Console(executions, definition, Settings.from_env().aggregates_table_name)


def create_server(aws: LocalAws, host: str, port: int) -> BaseWSGIServer:
    app = _Dispatch(LocalGateway(aws), console_of(aws))
    return make_server(host, port, _RequestLog(app), threaded=True)


@contextmanager
def serving(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the local API in a background thread; yields its base URL (port 0 picks a free one)."""
    with LocalAws() as aws, in_thread(create_server(aws, host, port), "local-api") as url:
        yield url


@contextmanager
def in_thread(server: BaseWSGIServer, name: str) -> Iterator[str]:
    """Serve `server` in a background thread until the block ends; yields its base URL."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://{server.host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
