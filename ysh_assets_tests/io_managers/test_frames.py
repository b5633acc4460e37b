"""The prefetch stages of a load: errors cross them, and stopping the consumer stops every stage."""

import threading

import pytest

from ysh_assets.io_managers.frames import prefetched


def _workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "ysh-prefetch")


def test_an_error_in_the_first_stage_reaches_the_consumer_through_the_second():
    def parse():
        yield 1
        raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"):
        list(prefetched(x * 2 for x in prefetched(parse())))
    assert _workers() == 0


def test_a_consumer_that_stops_early_stops_both_stages():
    produced = []

    def parse():
        for i in range(1_000_000):
            produced.append(i)
            yield i

    stages = prefetched(x for x in prefetched(parse()))
    assert [next(stages) for _ in range(3)] == [0, 1, 2]
    stages.close()  # e.g. the COPY failed: the consumer gives up
    assert _workers() == 0
    assert len(produced) < 100  # bounded read-ahead, not the whole input
