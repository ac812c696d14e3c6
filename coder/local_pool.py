"""Forked worker processes for the local engine: results in submission order, bounded memory.

The parent loads the stages once (spaCy pipeline, model, gazetteer) and forks; each
child inherits them copy-on-write instead of loading its own copy, so start-up is a
fork, not a model load. Work items travel to the children through a queue and results
come back tagged with their index; the parent yields them in submission order with at
most ``window`` items in flight, so output is identical to a serial run and memory
does not grow with the corpus.

Fork needs a POSIX system; elsewhere (or with one process) callers run serially.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from coder.errors import WorkerDied

Item = TypeVar("Item")
State = TypeVar("State")
Result = TypeVar("Result")

POLL_S = 1.0  # how often a waiting parent checks that its workers are still alive


def _serve(work: Callable[[Any, Any], Any], state: Any, tasks: Any, results: Any) -> None:
    """Child loop: code items until the ``None`` sentinel; errors go back to the parent."""
    while (task := tasks.get()) is not None:
        index, item = task
        try:
            results.put((index, work(item, state), None))
        except Exception as exc:  # sent to the parent, which re-raises it
            results.put((index, None, _portable(exc)))


def _portable(exc: Exception) -> Exception:
    """The exception itself when it pickles (named CoderErrors do), else its traceback as text."""
    try:
        pickle.dumps(exc)
    except Exception:  # unpicklable exception objects are common (open handles, lambdas)
        return RuntimeError(traceback.format_exc())
    return exc


class ForkedWorkers(Generic[Item, State, Result]):
    """``processes`` forked children running ``work(item, state)``; use as a context manager."""

    def __init__(
        self,
        work: Callable[[Item, State], Result],
        state: State,
        processes: int,
        *,
        window: int | None = None,
    ) -> None:
        self.processes = processes
        self.window = window or 2 * processes
        context = multiprocessing.get_context("fork")
        self._tasks = context.Queue()
        self._results = context.Queue()
        self._children = [
            context.Process(target=_serve, args=(work, state, self._tasks, self._results), daemon=True)
            for _ in range(processes)
        ]

    def __enter__(self) -> ForkedWorkers[Item, State, Result]:
        for child in self._children:
            child.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for _ in self._children:
            self._tasks.put(None)
        for child in self._children:
            child.join(timeout=None if kind is None else POLL_S)
            if child.is_alive():
                child.terminate()

    def map_ordered(self, items: Iterable[Item]) -> Iterator[Result]:
        """``work(item, state)`` for every item, yielded in the order the items came."""
        done: dict[int, Result] = {}
        sent = emitted = 0
        for item in items:
            self._tasks.put((sent, item))
            sent += 1
            while sent - emitted >= self.window:
                emitted = yield from self._emit_ready(done, emitted)
        while emitted < sent:
            emitted = yield from self._emit_ready(done, emitted)

    def _emit_ready(self, done: dict[int, Result], emitted: int) -> Generator[Result, None, int]:
        """Wait for one result, then yield every result that is next in order; return the new count."""
        index, result, error = self._receive()
        if error is not None:
            raise error
        done[index] = result
        while emitted in done:
            yield done.pop(emitted)
            emitted += 1
        return emitted

    def _receive(self) -> tuple[int, Result, Exception | None]:
        while True:
            try:
                answer: tuple[int, Result, Exception | None] = self._results.get(timeout=POLL_S)
                return answer
            except queue.Empty:
                dead = [c.exitcode for c in self._children if not c.is_alive()]
                if dead:
                    raise WorkerDied(
                        f"a worker process ended with exit code {dead[0]} before answering"
                    ) from None
