"""infra/local/awslambda/functions.py: concurrent in-process invocations each log their own keys."""

import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Logger

from infra.local.patches import RUNTIME_PATCHES

PATCH = "aws_lambda_powertools.logging.formatter:LambdaPowertoolsFormatter.log_format"


@pytest.fixture(autouse=True)
def log_keys_per_thread() -> Iterator[None]:
    """The runtime's patch of Powertools' formatter, as a running runtime has it."""
    with RUNTIME_PATCHES.applied(PATCH):
        yield


def logger_to_a_string() -> tuple[Logger, io.StringIO]:
    """A Powertools logger of its own (a new service name) writing to a string, keys per thread."""
    stream = io.StringIO()
    logger = Logger(
        service=f"wallet-test-{uuid.uuid4().hex}",
        level="INFO",
        logger_handler=logging.StreamHandler(stream),
    )
    return logger, stream


def logged_by(logger: Logger, stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_thread_logs_its_own_correlation_id_and_keeps_the_loggers_own_keys():
    logger, stream = logger_to_a_string()
    both_appended = threading.Barrier(2)

    def invocation(correlation_id: str) -> None:
        logger.set_correlation_id(correlation_id)
        both_appended.wait()  # the other invocation has appended its own meanwhile
        logger.info("done")

    threads = [threading.Thread(target=invocation, args=(c,)) for c in ("exec-a", "exec-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = logged_by(logger, stream)
    assert sorted(line["correlation_id"] for line in lines) == ["exec-a", "exec-b"]
    assert {line["service"] for line in lines} == {logger.service}  # the logger's own key


def test_a_new_thread_starts_without_another_threads_keys():
    logger, stream = logger_to_a_string()
    logger.append_keys(correlation_id="main-thread")

    thread = threading.Thread(target=logger.info, args=("from a new sandbox",))
    thread.start()
    thread.join()
    logger.info("from the main thread")

    first, second = logged_by(logger, stream)
    assert "correlation_id" not in first
    assert second["correlation_id"] == "main-thread"
