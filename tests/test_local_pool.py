"""Forked workers: same results as a serial map, in input order, errors carried to the parent."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coder.errors import DataFileError
from coder.local_pool import ForkedWorkers, WorkerDied


def _scaled(item: int, state: int) -> int:
    # Uneven work so results come back out of order and the pool must reorder them.
    time.sleep(0.001 * (item % 3))
    return item * state


def _fail_on_three(item: int, state: int) -> int:
    if item == 3:
        raise DataFileError("bad item", path="x.jsonl", line=3)
    return item


def _die_on_two(item: int, state: int) -> int:
    if item == 2:
        os._exit(9)
    return item


@settings(max_examples=10, deadline=None)
@given(items=st.lists(st.integers(-100, 100), max_size=25), processes=st.integers(1, 3))
def test_matches_a_serial_map_in_order(items: list[int], processes: int) -> None:
    with ForkedWorkers(_scaled, 7, processes) as pool:
        assert list(pool.map_ordered(items)) == [i * 7 for i in items]


def test_state_is_inherited_not_pickled() -> None:
    # A lambda cannot be pickled; with fork the children inherit it as it is.
    state = lambda x: x + 1  # noqa: E731
    workers: ForkedWorkers[int, Any, int] = ForkedWorkers(lambda item, f: f(item), state, 2)
    with workers as pool:
        assert list(pool.map_ordered(range(5))) == [1, 2, 3, 4, 5]


def test_window_bounds_items_in_flight() -> None:
    pool = ForkedWorkers(_scaled, 1, 2)
    assert pool.window == 4
    with pool:
        consumed = []
        source = iter(range(100))
        results = pool.map_ordered(x for x in source)
        consumed.append(next(results))
        # After the first result only a window's worth (plus the one just sent) was taken.
        assert len(list(source)) >= 100 - pool.window - 2


def test_named_error_in_a_worker_reaches_the_parent() -> None:
    with pytest.raises(DataFileError, match="bad item"), ForkedWorkers(_fail_on_three, 0, 2) as pool:
        list(pool.map_ordered(range(6)))


def test_a_dead_worker_is_reported_not_waited_for() -> None:
    with pytest.raises(WorkerDied), ForkedWorkers(_die_on_two, 0, 2) as pool:
        list(pool.map_ordered(range(4)))
