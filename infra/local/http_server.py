"""The local HTTP server: a threaded werkzeug server over the API (LocalGateway), with other
applications mounted beside it under a path prefix no path of infra/openapi.yaml starts with
(tests/contract checks the execution view's), so that none can hide an API route."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
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
        asked = printable(f"{request.method} {request.full_path.rstrip('?')}")
        log.info("%s -> %s (%.0f ms)%s", asked, status[0] if status else "?", elapsed, seen_at)
        return result


def printable(text: str) -> str:
    """`text` with each character `str.isprintable` refuses percent-escaped, as a URL spells it: a
    path holding %0D%0A, an escape sequence or a right-to-left override would otherwise forge a
    line of the log, recolour the terminal it is read in, or reorder the line as it shows."""
    return "".join(
        char
        if char.isprintable()
        else "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in text
    )


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


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, with what it does to a request that is not plain ASCII HTTP made what
    API Gateway's would be: a query's bytes read as UTF-8, and a refusal in the contract's shape."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        # http.server reads the request line as ISO-8859-1 and werkzeug encodes that to UTF-8, so
        # `?userId=é` sent as bytes (as curl sends it) arrived as "Ã\x83Â©", another wallet than
        # `?userId=%C3%A9`. The bytes are read as UTF-8 instead (U+FFFD where they are not, as API
        # Gateway reads a payload), then put in the form werkzeug gives every string of WSGI.
        sent = urlsplit(self.path).query.encode("latin-1")
        environ["QUERY_STRING"] = sent.decode("utf-8", "replace").encode().decode("latin-1")
        return environ

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request refused before any application sees it (a request line that is not HTTP or is
        too long, too many headers or one too long): http.server's HTML page would be no answer of
        the contract; it is a 400 VALIDATION_ERROR, as every invalid request is."""
        what = {414: "the request line is too long", 431: "too many headers, or a header too long"}
        text = what.get(code, "the request is not valid HTTP/1.1")
        body = json.dumps({"error": {"code": "VALIDATION_ERROR", "message": text}}).encode()
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # a status line and headers, even to a line not HTTP
        self.send_response(400, "Bad Request")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


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
    return make_server(
        host, port, _RequestLog(app, mounts, link), threaded=True, request_handler=_RequestHandler
    )


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
