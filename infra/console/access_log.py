"""A deployed API's requests by their x-amzn-RequestId, from its API Gateway access log.

The stage writes one JSON line per request to its access log group, in the format
infra/template.yaml's `AccessLogSetting` gives (`requestId`, `httpMethod`, `resourcePath`,
`status`, `responseLatency`, `integrationStatus`, `errorMessage`, ...); `requestId` is the
`x-amzn-RequestId` the client got. That is where a request that started no execution is found
(a GET, or a POST the API refused at the door: a 403, a 415, a 429 when throttled), and what the
API answered for one that did. Read with FilterLogEvents, the id as a quoted term (a pattern
CloudWatch Logs matches in any message), each match checked field by field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The template's access log fields, in the order the view shows them, with their labels.
FIELDS = {
    "requestTime": "Request time",
    "httpMethod": "Method",
    "resourcePath": "Resource",
    "status": "Status",
    "responseLatency": "Latency (ms)",
    "integrationStatus": "Integration status",
    "integrationLatency": "Integration latency (ms)",
    "errorType": "Error type",
    "errorMessage": "Error message",
    "responseLength": "Response length",
    "extendedRequestId": "Extended request id",
    "sourceIp": "Source IP",
    "userArn": "Caller",
    "xrayTraceId": "X-Ray trace",
}


@dataclass(frozen=True)
class AccessLogEntry:
    """One request as the access log has it: each field as logged ("-" when API Gateway had no
    value for it, as it writes them)."""

    request_id: str
    fields: Mapping[str, str]

    @property
    def method(self) -> str:
        return self.fields.get("httpMethod", "")

    @property
    def path(self) -> str:
        return self.fields.get("resourcePath", "")

    @property
    def status(self) -> int | None:
        status = self.fields.get("status", "")
        return int(status) if status.isdigit() else None

    def shown(self) -> list[tuple[str, str]]:
        """(label, value) of the fields that have a value, the known ones first."""
        known = [(label, self.fields[key]) for key, label in FIELDS.items() if key in self.fields]
        others = [(key, value) for key, value in self.fields.items()
                  if key not in FIELDS and key != "requestId"]  # fmt: skip
        return [(label, value) for label, value in known + others if value not in ("", "-")]


class AccessLog:
    """The access log group of a deployed API stage."""

    def __init__(self, logs_client: Any, log_group: str) -> None:
        self._client = logs_client
        self.log_group = log_group

    def find(self, request_id: str) -> AccessLogEntry | None:
        """The request's entry, or None when the log has none (yet: delivery takes seconds)."""
        if not request_id or '"' in request_id:
            return None
        pages = self._client.get_paginator("filter_log_events").paginate(
            logGroupName=self.log_group, filterPattern=f'"{request_id}"'
        )
        for page in pages:
            for event in page["events"]:
                entry = _entry(event["message"])
                if entry is not None and entry.request_id == request_id:
                    return entry
        return None


def _entry(message: str) -> AccessLogEntry | None:
    """The message as an access log entry, or None when it is not one."""
    try:
        fields = json.loads(message)
    except ValueError:
        return None
    if not isinstance(fields, dict) or not isinstance(fields.get("requestId"), str):
        return None
    return AccessLogEntry(fields["requestId"], {k: str(v) for k, v in fields.items()})
