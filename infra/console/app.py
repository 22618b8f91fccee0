"""The execution view: a WSGI application under /_console/, server-side HTML and SVG.

No build step and nothing fetched from the network: Jinja2 templates and two static files from
this package. It reads executions through `source.Executions` only.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect, safe_join
from werkzeug.wrappers import Request, Response

from infra.console.access_log import AccessLog, AccessLogEntry
from infra.console.changes import changes
from infra.console.layout import Layout
from infra.console.runs import Attempt, Run, StateRun, run_of
from infra.console.source import (
    LIST_LIMIT,
    Executions,
    Invocation,
    MalformedNameError,
    Summary,
    UnknownExecutionError,
    is_execution_name,
    request_id_of,
    users_of,
)

PREFIX = "/_console"
HERE = Path(__file__).parent
STATIC = HERE / "static"
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# The list's filters beside status and user: query parameter -> Summary field.
LIST_FILTERS = {"operation": "operation", "amount": "amount", "error": "error_code",
                "http": "http_status"}  # fmt: skip
_CONTENT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
log = logging.getLogger("console")


class Console:
    """The view of `executions`; `definitions` holds each state machine's ASL by its ARN."""

    def __init__(
        self,
        executions: Executions,
        definitions: Mapping[str, dict[str, Any]],
        aggregates_table: str,
        access_log: AccessLog | None = None,
    ) -> None:
        """`access_log`: a deployed API's access log, where requests are looked up by id."""
        self.executions = executions
        self.access_log = access_log
        self.definitions = dict(definitions)
        self.state_types = {
            arn: {name: state["Type"] for name, state in definition["States"].items()}
            for arn, definition in self.definitions.items()
        }
        self.layouts = {arn: Layout.of(definition) for arn, definition in definitions.items()}
        self.aggregates_table = aggregates_table
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape()
        )
        self.templates.filters["pretty"] = pretty
        self.templates.filters["clock"] = clock
        self.templates.filters["when"] = when
        self.templates.filters["breakable"] = breakable
        self.templates.filters["plain"] = plain_item
        self.templates.filters["message"] = message_of
        self.routes = Map(
            [
                Rule(f"{PREFIX}/", endpoint="list"),
                Rule(f"{PREFIX}/executions/<name>", endpoint="execution"),
                Rule(f"{PREFIX}/executions/<name>/live", endpoint="live"),
                Rule(f"{PREFIX}/requests/<request_id>", endpoint="request"),
                Rule(f"{PREFIX}/static/<file>", endpoint="static"),
            ],
            strict_slashes=False,
            # Not merged: `//x` is no request id (an id has no slash) but a 404, rather than a
            # redirect the error page would answer without its Location.
            merge_slashes=False,
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        try:
            endpoint, arguments = self.routes.bind_to_environ(request.environ).match()
            return getattr(self, f"_{endpoint}")(request, **arguments)
        except MalformedNameError as error:
            return self._error(400, "Not an execution name", _malformed(str(error)))
        except UnknownExecutionError as error:
            return self._error(
                404, "No such execution", f"No execution is known as {error}: it never ran, or "
                "the runtime no longer keeps it (it keeps the newest ones only).",
            )  # fmt: skip
        except NotFound:
            return self._error(404, "Not found", f"The console has no page at {request.path}.")
        except HTTPException as error:
            return self._error(error.code or 400, error.name, error.description or "")
        except Exception:
            log.exception("console page %s failed", request.path)
            return self._error(500, "The console failed", "See the server's log for the error.")

    def _list(self, request: Request) -> Response:
        request_id = request.args.get("requestId", "").strip()
        if request_id:
            return self._request(request, request_id)
        status = request.args.get("status", "")
        if status and status not in STATUSES:
            known = ", ".join(STATUSES)
            return self._error(400, "Unknown status", f"Status must be one of {known}.")
        user = request.args.get("user", "").strip()
        chosen = {name: request.args.get(name, "").strip() for name in LIST_FILTERS}
        summaries, total = self.executions.summaries(status or None, user or None, LIST_LIMIT)
        options = {
            name: sorted({str(v) for s in summaries if (v := getattr(s, field)) is not None})
            for name, field in LIST_FILTERS.items()
            if name != "amount"
        }
        shown = [s for s in summaries if _matches(s, chosen)]
        return self._page("list.html", summaries=shown, total=total, limit=LIST_LIMIT,
                          status=status, user=user, statuses=STATUSES, chosen=chosen,
                          options=options, filtered=any(chosen.values()))  # fmt: skip

    def _request(self, request: Request, request_id: str) -> Response:
        """The execution the request started; else what is known of a request that started
        none (refused before any execution, or a GET): its recorded exchange."""
        try:
            arn = self.executions.find_by_request_id(request_id)
        except UnknownExecutionError:
            exchange = self.executions.http_exchange(request_id)
            access = self._access(request_id) if exchange is None else None
            if exchange is None and access is None:
                raise
            return self._page(
                "request.html", exchange=exchange, access=access, request_id=request_id
            )
        described = self.executions.describe(arn)
        return redirect(f"{PREFIX}/executions/{described['name']}", 303)

    def _access(self, request_id: str | None) -> AccessLogEntry | None:
        if self.access_log is None or request_id is None:
            return None
        return self.access_log.find(request_id)

    def _described(self, name: str) -> dict[str, Any]:
        try:
            return self.executions.describe_named(name)
        except UnknownExecutionError as error:
            raise UnknownExecutionError(repr(name)) from error

    def _execution(self, request: Request, name: str) -> Response:
        described = self._described(name)
        events = self.executions.history(described["executionArn"])
        machine = described["stateMachineArn"]
        run = run_of(events, self.state_types[machine])
        invocations = self.executions.invocations(described["executionArn"])
        attempts = [(s.name, a) for s in run.states for a in s.attempts]
        by_attempt = {id(a): inv for (_, a), inv in zip(attempts, invocations, strict=False)}
        request_id = request_id_of(described.get("input"))
        users = users_of(described.get("input"))
        summary = self.executions.summary(described)
        statuses = {state.name: state.status for state in run.states}
        diagram = self.layouts[machine].svg(statuses, set(run.transitions))
        definition = self.definitions[machine]
        return self._page(
            "execution.html",
            described=described,
            summary=summary,
            run=run,
            panels=panels(run, definition),
            selected=_anchor_of(run, run.failing_state or (run.states[-1] if run.states else None)),
            diagram=Markup(diagram),  # built from the ASL with every text escaped (layout.py)
            timeline=timeline(run),
            invocation_of=lambda attempt: by_attempt.get(id(attempt)),
            aggregates=[
                {"user": user, **row}
                for user in users
                if (row := self._aggregate_row(invocations, user))
            ],
            events_published=self.executions.published_events(
                described["executionArn"], invocations
            ),
            exchange=(exchange := self.executions.http_exchange(request_id)),
            # The API names an execution after its request id: the name when the input has none.
            access=self._access(request_id or name) if exchange is None else None,
            history=events,
            is_recorded=self.executions.recorded is not None,
            users=users,
        )

    def _live(self, request: Request, name: str) -> Response:
        described = self._described(name)
        events = self.executions.history(described["executionArn"])
        body = {"status": described["status"], "events": len(events)}
        return Response(json.dumps(body), 200, content_type="application/json")

    def _static(self, request: Request, file: str) -> Response:
        path = safe_join(str(STATIC), file)
        if path is None or not Path(path).is_file():
            raise NotFound()
        content_type = _CONTENT_TYPES.get(Path(path).suffix, "application/octet-stream")
        return Response(Path(path).read_bytes(), 200, content_type=content_type)

    def _aggregate_row(self, invocations: Sequence[Invocation], user: str | None) -> dict[str, Any]:
        """The user's aggregate row before the execution's first request and after its last."""
        touched = [
            item
            for invocation in invocations
            for call in invocation.calls
            for item in call.items
            if item["table"] == self.aggregates_table and item["key"].get("userId") == {"S": user}
        ]
        if not touched:
            return {}
        return {"before": touched[0]["before"], "after": touched[-1]["after"]}

    def _page(self, template: str, **values: Any) -> Response:
        html = self.templates.get_template(template).render(prefix=PREFIX, **values)
        return Response(html, 200, content_type="text/html; charset=utf-8")

    def _error(self, status: int, title: str, message: str) -> Response:
        html = self.templates.get_template("error.html").render(
            prefix=PREFIX, status=status, title=title, message=message
        )
        return Response(html, status, content_type="text/html; charset=utf-8")


def _malformed(name: str) -> str:
    shown = name if len(name) <= 100 else name[:100] + "..."
    return (
        f"{shown!r} is not an execution name: names are 1-80 characters, without spaces, "
        'brackets, wildcards, control characters or any of "#%\\^|~`$&,;:/'
    )


def _anchor_of(run: Run, state: StateRun | None) -> str:
    """The id of a state run's panel: `state-<name>`, with `-<n>` from its second run on."""
    if state is None:
        return ""
    earlier = [s for s in run.states[: run.states.index(state)] if s.name == state.name]
    return f"state-{state.name}" + (f"-{len(earlier) + 1}" if earlier else "")


def panels(run: Run, definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A panel for each state run, then one for each state of the machine it never entered
    (so that every state of the drawing opens something): its anchor, the run (None if not
    entered), what it changed in its input and its ASL."""
    found = []
    for state in run.states:
        found.append({
            "anchor": _anchor_of(run, state), "name": state.name, "run": state,
            "changes": changes(state.input, state.output),
            "definition": definition["States"].get(state.name),
        })  # fmt: skip
    entered = {state.name for state in run.states}
    for name, state_definition in definition["States"].items():
        if name not in entered:
            found.append({"anchor": f"state-{name}", "name": name, "run": None,
                          "changes": None, "definition": state_definition})  # fmt: skip
    return found


def _matches(summary: Summary, chosen: Mapping[str, str]) -> bool:
    for name, wanted in chosen.items():
        if not wanted:
            continue
        value = getattr(summary, LIST_FILTERS[name])
        if name == "amount":
            if not _same_amount(value, wanted):
                return False
        elif str(value if value is not None else "") != wanted:
            return False
    return True


def _same_amount(value: str | None, wanted: str) -> bool:
    """Amounts compare as numbers (`10` is `10.00`), else as written."""
    if value is None:
        return False
    try:
        return Decimal(value) == Decimal(wanted)
    except ArithmeticError:
        return value == wanted


def timeline(run: Run) -> list[dict[str, Any]]:
    """Each state run and its attempts as spans in percent of the execution's duration."""
    started = run.started
    if started is None or not run.states:
        return []
    end = run.stopped or max(
        [s.exited or s.entered for s in run.states]
        + [a.ended or a.scheduled for s in run.states for a in s.attempts]
    )
    total = max((end - started).total_seconds(), 1e-3)

    def span(start: datetime, stop: datetime | None) -> dict[str, float]:
        left = (start - started).total_seconds() / total * 100
        width = ((stop or end) - start).total_seconds() / total * 100
        return {"left": round(left, 2), "width": round(max(width, 0.4), 2),
                "ms": round(((stop or end) - start).total_seconds() * 1000, 1)}  # fmt: skip

    rows = []
    for state in run.states:
        attempts: list[tuple[Attempt, dict[str, float]]] = [
            (a, span(a.scheduled, a.ended)) for a in state.attempts
        ]
        rows.append({"state": state, "span": span(state.entered, state.exited),
                     "attempts": attempts})  # fmt: skip
    return rows


def pretty(value: Any) -> str:
    """A JSON document (or a string holding one) indented; anything else as it is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            return value
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def message_of(cause: str | None) -> str:
    """A Lambda error's message out of the cause Step Functions keeps (its whole error JSON)."""
    try:
        message = json.loads(cause or "")["errorMessage"]
    except (ValueError, KeyError, TypeError):
        return cause or ""
    return str(message)


def when(value: datetime | None) -> str:
    """Date and time to the millisecond, in UTC (the same for a local and a deployed stack)."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def breakable(text: str | None) -> Markup:
    """Text that may wrap only after its separators (an ARN at its colons, a path at its
    slashes), never inside a word."""
    escaped = escape(text or "")
    return Markup(re.sub(r"([:/,])", r"\1<wbr>", str(escaped)))


def clock(value: datetime | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value).astimezone()
    return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


_deserializer = TypeDeserializer()


def plain_item(item: dict[str, Any] | None) -> str:
    """A DynamoDB item as plain JSON (numbers as their decimal strings)."""
    if item is None:
        return "(no item)"
    values = {name: _deserializer.deserialize(value) for name, value in item.items()}
    return json.dumps(values, indent=2, default=_decimal, ensure_ascii=False)


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(type(value).__name__)


__all__ = ["PREFIX", "Console", "is_execution_name"]
