"""A server process a test started (`make run`, `make console`), stopped as a user stops it."""

from __future__ import annotations

import signal
import subprocess


def stopped(process: subprocess.Popen[str], stop_signal: int = signal.SIGINT) -> str:
    """Sends `stop_signal` (SIGINT: Ctrl-C) and waits up to 30 s for the process to end, killing it
    if it has not (so that no test leaves one running): what it printed after what was read.

    Raises: subprocess.TimeoutExpired if it had not ended.
    """
    process.send_signal(stop_signal)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return output
