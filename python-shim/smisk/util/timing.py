"""A stopwatch."""
import time
from typing import Optional

__all__ = ["Timer"]


class Timer:
    """Measures elapsed wall time with time.perf_counter()."""

    def __init__(self, start: bool = True) -> None:
        self.t0: Optional[float] = None
        self.t1: Optional[float] = None
        if start:
            self.start()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.t1 = None

    def finish(self) -> str:
        """Stops the timer; returns '<s>s <ms>ms <us>us'."""
        self.t1 = time.perf_counter()
        return str(self)

    stop = finish

    def time(self) -> float:
        """Elapsed seconds (up to now while running)."""
        if self.t0 is None:
            return 0.0
        end = self.t1 if self.t1 is not None else time.perf_counter()
        return end - self.t0

    seconds = time

    def milli(self) -> int:
        """The millisecond part of the elapsed time (0-999)."""
        return int(self.time() * 1000) % 1000

    def micro(self) -> int:
        """The microsecond part of the elapsed time (0-999)."""
        return int(self.time() * 1000000) % 1000

    def __str__(self) -> str:
        return f"{int(self.time())}s {self.milli()}ms {self.micro()}us"
