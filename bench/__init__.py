"""Benchmarks: each reports our time as a ratio to a baseline measured in the same run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Stopwatch:
    """Seconds spent inside one function, and how many calls, while `timing` is on."""

    seconds: float = 0.0
    calls: int = 0


@contextmanager
def timing(module: object, name: str, watch: Stopwatch) -> Iterator[Stopwatch]:
    """Time every call of `module.<name>` (the real function, wrapped) until the block ends."""
    real = getattr(module, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            watch.seconds += time.perf_counter() - start
            watch.calls += 1

    setattr(module, name, timed)
    try:
        yield watch
    finally:
        setattr(module, name, real)
