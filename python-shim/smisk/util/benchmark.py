"""A loop that times its body: `for _ in benchmark('name', 1000): body()`."""
import gc
import os
import sys
import time
from typing import IO, Iterator, Optional

__all__ = ["benchmark"]


def benchmark(name: str = "benchmark", iterations: int = 1000000, outfp: Optional[IO[str]] = None,
              it_subtractor: float = 0.0) -> Iterator[int]:
    """Yields `iterations` times with the garbage collector off, then writes
    calls per second, the average time per call, and real, user and system
    time (each less `it_subtractor` seconds per iteration, e.g. the cost of
    an empty loop) to `outfp` (default sys.stderr). An exception raised in
    the loop body is re-raised after the report."""
    out = sys.stderr if outfp is None else outfp
    gc_was_enabled = gc.isenabled()
    gc.disable()
    t0, c0 = time.perf_counter(), os.times()
    done = 0
    try:
        for i in range(iterations):
            yield i
            done += 1
    finally:
        real = time.perf_counter() - t0
        c1 = os.times()
        if gc_was_enabled:
            gc.enable()
        minus = it_subtractor * done
        real = max(real - minus, 0.0)
        user = max(c1.user - c0.user - minus, 0.0)
        system = max(c1.system - c0.system - minus, 0.0)
        per_call = real / done if done else 0.0
        rate = done / real if real > 0 else float("inf")
        out.write(f"{name}: {done} iterations, {rate:.1f} calls/sec, {per_call * 1e6:.3f} us/call; "
                  f"real {real:.3f}s, user {user:.3f}s, system {system:.3f}s\n")
