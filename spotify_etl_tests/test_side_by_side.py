"""spotify_etl.lib.side_by_side: tasks run in their order, a few at a time, and a failure stops
only what comes after it."""

import threading
import time

import pytest

from spotify_etl.lib.side_by_side import run_side_by_side


class Recorder:
    """Tasks that record when they start and end, and how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.running = 0
        self.most_at_once = 0

    def task(self, name: str, seconds: float = 0.05, fail: bool = False):
        def run() -> str:
            with self.lock:
                self.events.append(("start", name))
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
            time.sleep(seconds)
            with self.lock:
                self.running -= 1
                self.events.append(("end", name))
            if fail:
                raise RuntimeError(f"{name} broke")
            return name.upper()

        return run

    def index(self, kind: str, name: str) -> int:
        return self.events.index((kind, name))


def test_each_task_starts_after_what_it_comes_after_with_at_most_the_workers_at_once() -> None:
    recorder = Recorder()
    tasks = {name: recorder.task(name) for name in "abcdef"}
    after = {"b": {"a"}, "d": {"b", "c"}, "f": {"e"}}
    outcomes = list(run_side_by_side(tasks, after, workers=2))
    assert sorted(outcome.key for outcome in outcomes) == list("abcdef")
    assert {outcome.key: outcome.result for outcome in outcomes} == {name: name.upper() for name in "abcdef"}
    assert all(outcome.succeeded for outcome in outcomes)
    for task, firsts in after.items():
        for first in firsts:
            assert recorder.index("end", first) < recorder.index("start", task)
    assert recorder.most_at_once == 2


def test_a_failure_stops_what_comes_after_it_and_nothing_else() -> None:
    recorder = Recorder()
    tasks = {
        "artist": recorder.task("artist", fail=True),
        "track": recorder.task("track"),
        "track_versions": recorder.task("track_versions"),
        "date": recorder.task("date", seconds=0.2),
        "podcast": recorder.task("podcast"),
    }
    after = {"track": {"artist"}, "track_versions": {"track"}}
    outcomes = {outcome.key: outcome for outcome in run_side_by_side(tasks, after, workers=2)}
    assert set(outcomes) == set(tasks)
    assert str(outcomes["artist"].error) == "artist broke" and not outcomes["artist"].succeeded
    assert outcomes["track"].blocked_by == "artist" and outcomes["track_versions"].blocked_by == "track"
    assert {key for key, outcome in outcomes.items() if outcome.succeeded} == {"date", "podcast"}
    started = {name for kind, name in recorder.events if kind == "start"}
    assert started == {"artist", "date", "podcast"}


def test_of_the_tasks_ready_those_first_in_priority_start_first() -> None:
    recorder = Recorder()
    tasks = {name: recorder.task(name) for name in ["x", "y", "z", "long"]}
    list(run_side_by_side(tasks, {}, workers=1, priority=["long", "z"]))
    assert [name for kind, name in recorder.events if kind == "start"] == ["long", "z", "x", "y"]


def test_prerequisites_not_among_the_tasks_are_not_waited_for() -> None:
    """A subset: what a task comes after but is not selected was built another time."""
    tasks = {"track": lambda: "built"}
    outcomes = list(run_side_by_side(tasks, {"track": {"artist"}}, workers=2))
    assert [(outcome.key, outcome.result) for outcome in outcomes] == [("track", "built")]


@pytest.mark.parametrize("workers", [1, 3])
def test_outcomes_come_as_tasks_end(workers) -> None:
    recorder = Recorder()
    tasks = {"slow": recorder.task("slow", seconds=0.3), "quick": recorder.task("quick", seconds=0.01)}
    order = [outcome.key for outcome in run_side_by_side(tasks, {}, workers=workers, priority=["slow"])]
    # One worker: the slow one (first in priority) ends first; more: the quick one does.
    assert order == (["slow", "quick"] if workers == 1 else ["quick", "slow"])
