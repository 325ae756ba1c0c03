"""Run tasks that depend on each other side by side, a few at a time, each once all it comes
after has succeeded.

A task whose prerequisite failed is not run (nor is anything after it); every other task runs,
whatever failed beside it. Of the tasks ready at a moment, those earlier in `priority` start
first, so that the longest chains start early on few workers. Outcomes are given as each task
ends, in the caller's thread: a failure is the task's own exception, not re-raised here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Result = TypeVar("Result")


@dataclass(frozen=True)
class Outcome(Generic[Key, Result]):
    """How one task ended: its result, or its exception, or not run because `blocked_by` failed."""

    key: Key
    result: Result | None = None
    error: BaseException | None = None
    blocked_by: Key | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.blocked_by is None


def run_side_by_side(
    tasks: dict[Key, Callable[[], Result]],
    after: dict[Key, set[Key]],
    workers: int,
    priority: Sequence[Key] = (),
) -> Iterator[Outcome[Key, Result]]:
    """Run each of `tasks` once those of `after[key]` among them succeeded, at most `workers` at
    a time; yield each one's outcome as it ends (a task not run, when its prerequisite ends)."""
    sorter = TopologicalSorter({key: after.get(key, set()) & tasks.keys() for key in tasks})
    sorter.prepare()
    rank = {key: position for position, key in enumerate(priority)}
    failed: set[Key] = set()
    ready: list[Key] = []
    running: dict[Future, Key] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while sorter.is_active():
            ready.extend(sorter.get_ready())
            for key in [key for key in ready if after.get(key, set()) & failed]:
                ready.remove(key)
                failed.add(key)
                sorter.done(key)
                yield Outcome(key, blocked_by=min(after[key] & failed, key=str))
            ready.sort(key=lambda key: rank.get(key, len(rank)))
            while ready and len(running) < workers:
                key = ready.pop(0)
                running[pool.submit(tasks[key])] = key
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                sorter.done(key)
                if future.exception() is not None:
                    failed.add(key)
                    yield Outcome(key, error=future.exception())
                else:
                    yield Outcome(key, result=future.result())
