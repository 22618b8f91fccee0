"""`make run`: the wallet API on http://127.0.0.1:3000 with no AWS account and no Docker."""

import logging
import os
import signal
import threading
import warnings

from werkzeug.serving import BaseWSGIServer

from infra.local.aws import LocalAws
from infra.local.endpoint import DEFAULT_PORT, create_endpoint_server
from infra.local.server import create_server


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)  # stop as cleanly as on Ctrl-C
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our own line per request instead
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # Metrics are not published here (POWERTOOLS_METRICS_DISABLED), so a handler that added none
    # (a 422 ends before its metric) is expected: Powertools' warning about it would only be noise.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    function_log_level = os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "3000"))
    with LocalAws() as aws:
        _quiet_functions(function_log_level)
        server = create_server(aws, host, port)
        endpoints = _aws_endpoints(aws, host)
        url = f"http://{host}:{server.server_port}"
        print(f"Wallet API (embedded runtime: moto in-process) on {url}")
        for endpoint, what in endpoints:
            print(f"{what} on http://{host}:{endpoint.server_port}")
        print("Try:")
        print(f"  curl -s '{url}/balance?userId=1'")
        print(
            f"  curl -s -X POST {url}/transactions -H 'Content-Type: application/json' "
            '-H \'Idempotent-Key: 1\' -d \'{"userId": "1", "ammount": "10", "type": "credit"}\''
        )
        print(f"Executions (the saga of each request, in a browser): {url}/_console/")
        print("Each event published on the wallet's bus is logged as it arrives.")
        print("Ctrl-C stops it.", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
            for endpoint, _ in endpoints:
                endpoint.shutdown()
                endpoint.server_close()
            print("\nStopped.")


def _quiet_functions(level: str) -> None:
    """The handlers' JSON log lines (CloudWatch Logs' on AWS) only from `level` up: WARNING unless
    POWERTOOLS_LOG_LEVEL is set, so the readable lines (one per request, one per event) are not
    interleaved with INFO records such as the projection's "batch projected"."""
    from functions.observability import logger  # the service's one Powertools logger

    logger.setLevel(level.upper())


def _aws_endpoints(aws: LocalAws, host: str) -> list[tuple[BaseWSGIServer, str]]:
    """AWS_PORT (4566 unless set; "off" turns it off) serves the AWS APIs, LAMBDA_PORT (unset: off;
    3001 is `sam local start-lambda`'s) the Lambda API alone; port 0 picks a free port."""
    endpoints = []
    aws_port = os.environ.get("AWS_PORT", str(DEFAULT_PORT))
    if aws_port != "off":
        endpoint = create_endpoint_server(aws, host, int(aws_port))
        endpoints.append(
            (
                endpoint,
                "AWS endpoint (DynamoDB, DynamoDB Streams, Step Functions, "
                "EventBridge, SQS, Lambda; region us-east-1)",
            )
        )
    if lambda_port := os.environ.get("LAMBDA_PORT"):
        endpoint = create_endpoint_server(aws, host, int(lambda_port), is_lambda_only=True)
        endpoints.append((endpoint, "Lambda endpoint (as sam local start-lambda)"))
    for endpoint, _ in endpoints:
        threading.Thread(target=endpoint.serve_forever, name="aws-endpoint", daemon=True).start()
    return endpoints


if __name__ == "__main__":
    main()
