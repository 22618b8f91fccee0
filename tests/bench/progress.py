"""A progress display on stderr: one redrawn line per phase on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

BAR_WIDTH = 24


class Ticker:
    """Counts the finished operations of one phase and redraws its line."""

    def __init__(self, progress: Progress, label: str, total: int | None) -> None:
        self._progress = progress
        self._label = label
        self._total = total
        self._done = 0
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self._done += count
            now = time.perf_counter()
            if self._progress.is_tty and (now - self._last_draw > 0.1 or self._done == self._total):
                self._last_draw = now
                self._progress.redraw(self.line())

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def line(self) -> str:
        if not self._total:
            return f"{self._label}  {self.elapsed:6.1f}s"
        filled = int(BAR_WIDTH * self._done / self._total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{self._label}  [{bar}] {self._done}/{self._total}  {self.elapsed:6.1f}s"


class Progress:
    def __init__(self, phases: int, stream: TextIO = sys.stderr) -> None:
        self._phases = phases
        self._index = 0
        self._stream = stream
        self.is_tty = stream.isatty()
        self._started = time.perf_counter()

    def redraw(self, line: str) -> None:
        self._stream.write("\r\033[K" + line)
        self._stream.flush()

    @contextmanager
    def phase(self, name: str, total: int | None = None) -> Iterator[Ticker]:
        self._index += 1
        label = f"[{self._index:2d}/{self._phases}] {name:<34}"
        ticker = Ticker(self, label, total)
        if self.is_tty:
            self.redraw(ticker.line())
        else:
            print(f"{label}  ...", file=self._stream, flush=True)
        try:
            yield ticker
        finally:
            if self.is_tty:
                self.redraw(ticker.line() + "\n")
            else:
                print(f"{label}  done in {ticker.elapsed:.1f}s", file=self._stream, flush=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started
