"""Work released at once from several threads, for the concurrency tests."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_in_threads(work: Callable[[int], Any], count: int) -> list:
    """Run work(i) in `count` threads released at once; return what each raised or gave."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def runner(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
