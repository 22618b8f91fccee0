"""The real clock a Lambda waits with: wall time, sleep and jitter (domain/lock_wait.Clock)."""

import random
import time


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def jitter(self) -> float:
        return random.random()
