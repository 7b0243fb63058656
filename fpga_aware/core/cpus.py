"""How many CPUs this process may use (its affinity mask, not the machine's count), and running
work on that many threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")

__all__ = ["available_cpus", "run_on_threads"]


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run_on_threads(work: Callable[[T], None], items: Iterable[T], workers: int) -> None:
    """``work(item)`` for every item: in order on this thread when ``workers <= 1``, else on a
    pool of ``workers`` threads (exceptions propagate either way)."""
    if workers <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(work, items))
