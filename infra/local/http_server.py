"""The local HTTP server: a threaded werkzeug server over the API (LocalGateway), with other
applications mounted beside it under a path prefix no path of infra/openapi.yaml starts with
(tests/contract checks the execution view's), so that none can hide an API route."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request

log = logging.getLogger("local_api")

WsgiApp = Callable[[dict[str, Any], Any], Any]
# Given an API request id, where to see what it did (None: nowhere).
RequestLink = Callable[[str], str | None]


class _RequestLog:
    """One line per request: method, path, status and time taken (not a mount's live polls)."""

    def __init__(self, app: WsgiApp, mounts: Mapping[str, WsgiApp], link: RequestLink) -> None:
        self._app = app
        self._mounts = tuple(mounts)
        self._link = link

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
        if request.path.endswith("/live") and request.path.startswith(self._mounts):
            return result
        elapsed = (time.perf_counter() - started) * 1000
        # An execution's answer names where to see it (the GET starts none).
        seen_at = ""
        if request.method == "POST" and request_ids and (link := self._link(request_ids[0])):
            seen_at = f" {request.host_url.rstrip('/')}{link}"
        log.info("%s %s -> %s (%.0f ms)%s", request.method, request.full_path.rstrip("?"),
                 status[0] if status else "?", elapsed, seen_at)  # fmt: skip
        return result


class _Dispatch:
    """Each mount's prefix to its application, everything else to the API."""

    def __init__(self, api: WsgiApp, mounts: Mapping[str, WsgiApp]) -> None:
        self._api = api
        self._mounts = dict(mounts)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self._mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_response)
        return self._api(environ, start_response)


def create_server(
    api: WsgiApp,
    host: str,
    port: int,
    mounts: Mapping[str, WsgiApp] | None = None,
    link: RequestLink = lambda request_id: None,
) -> BaseWSGIServer:
    """The API on `host:port` (port 0: a free one), with `mounts` ({prefix: application})."""
    mounts = mounts or {}
    app = _Dispatch(api, mounts)
    return make_server(host, port, _RequestLog(app, mounts, link), threaded=True)


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
