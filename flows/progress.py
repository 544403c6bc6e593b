"""Progress of long steps (files and API pages landed, dbt nodes built) for whoever draws it.

The flow's tasks call `tick("dbt nodes")`; the CLI installs a listener that draws rich progress
bars. Without a listener (a scheduled run), ticks cost nothing. Tasks may run in threads, so the
listener must be thread-safe (rich's Progress is).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_listener: Callable[[str], None] | None = None


def tick(what: str) -> None:
    if _listener is not None:
        _listener(what)


@contextmanager
def listening(listener: Callable[[str], None]) -> Iterator[None]:
    global _listener
    previous, _listener = _listener, listener
    try:
        yield
    finally:
        _listener = previous
