"""The prefetch stages of a load: errors cross them, and stopping the consumer stops every stage."""

import threading
import time

import pytest

from ysh_assets.io_managers.frames import prefetched


def _workers(before: set[threading.Thread]) -> int:
    """Prefetch workers started since `before` that are still alive (after a short grace)."""
    deadline = time.monotonic() + 2
    while True:
        alive = [t for t in threading.enumerate() if t.name == "ysh-prefetch" and t not in before]
        if not alive or time.monotonic() > deadline:
            return len(alive)
        time.sleep(0.01)


def test_an_error_in_the_first_stage_reaches_the_consumer_through_the_second():
    def parse():
        yield 1
        raise ValueError("bad block")

    before = set(threading.enumerate())
    with pytest.raises(ValueError, match="bad block"):
        list(prefetched(x * 2 for x in prefetched(parse())))
    assert _workers(before) == 0


def test_a_consumer_that_stops_early_stops_both_stages():
    produced = []

    def parse():
        for i in range(1_000_000):
            produced.append(i)
            yield i

    before = set(threading.enumerate())
    stages = prefetched(x for x in prefetched(parse()))
    assert [next(stages) for _ in range(3)] == [0, 1, 2]
    stages.close()  # e.g. the COPY failed: the consumer gives up
    assert _workers(before) == 0
    assert len(produced) < 100  # bounded read-ahead, not the whole input
