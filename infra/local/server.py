"""The local HTTP server: a threaded werkzeug server over LocalGateway and LocalAws."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request

from infra.local.aws import LocalAws
from infra.local.gateway import LocalGateway

log = logging.getLogger("local_api")


class _RequestLog:
    """One line per request: method, path, status and time taken."""

    def __init__(self, app: LocalGateway) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        request = Request(environ)
        status: list[str] = []

        def recording_start_response(code: str, headers: Any, *args: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *args)

        result = self._app(environ, recording_start_response)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %s (%.0f ms)", request.method, request.full_path.rstrip("?"),
                 status[0] if status else "?", elapsed)  # fmt: skip
        return result


def create_server(aws: LocalAws, host: str, port: int) -> BaseWSGIServer:
    return make_server(host, port, _RequestLog(LocalGateway(aws)), threaded=True)


@contextmanager
def serving(host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the local API in a background thread; yields its base URL (port 0 picks a free one)."""
    with LocalAws() as aws:
        server = create_server(aws, host, port)
        thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
        thread.start()
        try:
            yield f"http://{host}:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()
            server.server_close()
