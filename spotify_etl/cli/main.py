"""`spotify-etl`: run the pipeline, open the UI, see what the warehouse holds."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.package_data import sample_dir
from spotify_etl.logs import configure_logging
from spotify_etl.settings import API_MODES, ensure_dagster_home

# How long `spotify-etl ui` gives the processes it started to stop before killing them.
_UI_STOP_GRACE_S = 10

_WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: spotify_etl.definitions
      location_name: spotify_etl
"""

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: str) -> str:
    if not _MONTH.match(value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {value!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spotify-etl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="materialize every asset for the exports in the raw directory")
    run.add_argument("--sample", action="store_true", help="read the bundled sample export")
    run.add_argument("--raw-dir", type=Path, help="read exports from here (default SPOTIFY_ETL_RAW_DIR)")
    run.add_argument("--from", dest="month_from", type=_month, help="first month to build, YYYY-MM")
    run.add_argument("--to", dest="month_to", type=_month, help="last month to build, YYYY-MM")
    run.add_argument("--no-enrich", action="store_true", help="skip the Spotify Web API enrichment")
    run.add_argument(
        "--api-mode",
        choices=API_MODES,
        help="single: one request per id (development-mode apps); batch: multi-id endpoints (extended quota); "
        "auto: batch until refused (default SPOTIFY_API_MODE, else single)",
    )
    run.add_argument(
        "--requests-per-30s",
        type=int,
        help="client-side limit on Spotify API requests per rolling 30 s "
        "(default SPOTIFY_API_REQUESTS_PER_30S, else 60)",
    )

    ui = commands.add_parser("ui", help="start the Dagster UI (webserver and daemon)")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--sample", action="store_true", help="watch the bundled sample export instead of the raw directory"
    )

    commands.add_parser("status", help="what the warehouse holds")

    worker = commands.add_parser(
        "worker", help="run the steps of Dagster runs sent through Celery (needs SPOTIFY_ETL_CELERY_BROKER)"
    )
    worker.add_argument("--name", help="the worker's name, unique among the workers (default: spotify-etl-<pid>)")
    worker.add_argument("--concurrency", type=int, default=1, help="steps at a time (default 1)")

    report = commands.add_parser("report", help="write the HTML listening report and print its path")
    report.add_argument("--year", type=int, help="one year only")
    report.add_argument("--listener", help="one listener only (default: everyone)")

    args = parser.parse_args(argv)
    try:
        ensure_dagster_home()
        if args.command == "run":
            return _run(args)  # inside the run, Dagster's log manager writes the log file
        configure_logging()
        commands = {"ui": _ui, "report": _report, "status": lambda _args: _status(), "worker": _worker}
        return commands[args.command](args)
    except Exception as exc:  # noqa: BLE001 - one line for the user; the log has the traceback
        return _failed(args.command, exc)


# Set by `console`: this process is the command alone, and ends with it.
_whole_process = False


def console() -> NoReturn:
    """The `spotify-etl` command: `main`, then exit without tearing the interpreter down.

    Python's teardown frees every module and object Dagster, SQLAlchemy and pydantic left
    (0.4-0.6 s at the end of every command, measured here), which buys a process that is about
    to exit nothing. The exit handlers still run (the embedded server's is among them: the
    last process holding the server stops it) and the output is flushed. The exit is Python's
    own with a thread of another library still running (it waits for it) and with a profiler
    or tracer attached (cProfile, coverage: they write their results at exit)."""
    global _whole_process
    _whole_process = True
    code = main()
    others = [thread for thread in threading.enumerate() if thread is not threading.main_thread()]
    if any(not thread.daemon for thread in others) or sys.getprofile() or sys.gettrace():
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@contextmanager
def _imports_kept_for_good() -> Iterator[None]:
    """Import the commands' heavy modules (Dagster, the definitions) within this. In the
    `spotify-etl` process, the cyclic garbage collector is off while they load, and what they
    made is frozen after (gc.freeze): modules, classes and functions that live as long as the
    process, which each full collection would otherwise walk again. Measured here: importing
    what `run` needs took 1.30 s with the collector on and 1.05 s without, and a run then spent
    0.15 s less. Elsewhere (`main` called in a longer-lived process, as the tests do) nothing
    changes: the freeze would keep that process's garbage of the moment for good."""
    if not _whole_process:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _failed(command: str, exc: Exception) -> int:
    """Say in one line why `command` failed: the package's own errors by their message, others
    (a database error, a bug) with their type."""
    import psycopg

    if isinstance(exc, SpotifyEtlError):
        reason = str(exc)
    elif isinstance(exc, psycopg.Error):
        reason = f"the warehouse answered {type(exc).__name__}: {' '.join(str(exc).split())}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    print(f"spotify-etl: {command} failed: {reason}", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace) -> int:
    with _imports_kept_for_good():
        from spotify_etl.cli.run import run_pipeline

    if args.month_from and args.month_to and args.month_from > args.month_to:
        print(f"spotify-etl: --from {args.month_from} is after --to {args.month_to}", file=sys.stderr)
        return 2
    if args.requests_per_30s is not None and args.requests_per_30s < 1:
        print("spotify-etl: --requests-per-30s must be at least 1", file=sys.stderr)
        return 2
    # The runs of this command plan their months as one event an asset, not one a month: at
    # 100k plays a first run took 19 s instead of 24 s. What it costs: while one of them runs,
    # or once it failed, the UI does not show its months in progress or failed, only the run
    # (the command says it failed, and the next run loads them). Runs from the UI keep both.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    started = time.monotonic()
    outcome = run_pipeline(
        raw_dir=sample_dir() if args.sample else args.raw_dir,
        month_from=args.month_from,
        month_to=args.month_to,
        enrich=not args.no_enrich,
        api_mode=args.api_mode,
        requests_per_30s=args.requests_per_30s,
    )
    print()
    print(outcome.summary_table())
    runs = (
        "no run"
        if not outcome.run_ids
        else f"run {outcome.run_id}"
        if len(outcome.run_ids) == 1
        else f"{len(outcome.run_ids)} runs (last {outcome.run_id})"
    )
    print(f"\n{runs} {'succeeded' if outcome.success else 'FAILED'} in {time.monotonic() - started:.1f}s")
    if not outcome.success:
        print(f"spotify-etl: run failed: {outcome.failure}", file=sys.stderr)
        return 1
    print("See it in the UI: spotify-etl ui")
    return 0


def _worker(args: argparse.Namespace) -> int:
    """Become a Celery worker of spotify_etl.cli.celery_app on the deployment's queue (the
    process is replaced: signals reach Celery, which finishes or hands back its step)."""
    from spotify_etl.settings import load_settings

    settings = load_settings()
    settings.required_celery_broker()
    name = args.name or f"spotify-etl-{os.getpid()}"
    command = [sys.executable, "-m", "celery", "-A", "spotify_etl.cli.celery_app", "worker"]
    command += ["-Q", settings.celery_queue, "-c", str(args.concurrency), "-n", f"{name}@%h", "--loglevel", "INFO"]
    print(
        f"Starting Celery worker {name} on queue {settings.celery_queue} ({args.concurrency} at a time) ...", flush=True
    )
    os.execv(sys.executable, command)


def _ui(args: argparse.Namespace) -> int:
    from spotify_etl.defs.resources import WarehouseResource
    from spotify_etl.settings import load_settings

    # Hold the embedded server for the UI's lifetime so runs join it instead of starting it.
    WarehouseResource.from_settings(load_settings()).url()
    env = dict(os.environ)
    if args.sample:
        env["SPOTIFY_ETL_RAW_DIR"] = str(sample_dir())
    dagster = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    # Written here rather than read from the checkout's workspace.yaml: an installed package
    # has no checkout around it. The location keeps the name the checkout's file gives it.
    workspace = Path(os.environ["DAGSTER_HOME"]) / "workspace.yaml"
    workspace.write_text(_WORKSPACE_YAML, encoding="utf-8")
    command = [dagster, "dev", "-w", str(workspace), "-h", args.host, "-p", str(args.port)]
    address = f"http://{args.host}:{args.port}"
    print(f"Starting the Dagster UI at {address} (DAGSTER_HOME={os.environ['DAGSTER_HOME']}) ...", flush=True)
    # Its own process group: `dagster dev` starts the webserver, the daemon and code servers,
    # and all of them must stop with this command, however it is stopped.
    server = subprocess.Popen(command, env=env, start_new_session=True)

    def stop(signum: int, _frame) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        if _wait_for_ui(address, server):
            print(f"Dagster UI ready: {address}  (the raw_files_sensor picks up new exports)", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        print("Stopping the Dagster UI ...", flush=True)
        return 0
    finally:
        _stop_process_group(server)
        signal.signal(signal.SIGTERM, previous)


def _stop_process_group(leader: subprocess.Popen) -> None:
    """Interrupt the leader and everything it started (as Ctrl-C would), wait for them to
    stop, and kill what is left after the grace time. Found before any signal: once the
    leader is gone, its children belong to PID 1 and no longer show as its descendants."""
    import psutil

    try:
        root = psutil.Process(leader.pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        processes = []
    processes += [p for p in psutil.process_iter() if p not in processes and _in_group(p.pid, leader.pid)]
    alive = processes
    for sig in (signal.SIGINT, signal.SIGKILL):
        for process in alive:
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(alive, timeout=_UI_STOP_GRACE_S)
        if not alive:
            break
    leader.poll()


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except OSError:
        return False


def _wait_for_ui(address: str, server: subprocess.Popen, timeout_s: float = 180) -> bool:
    """Wait until the webserver answers, then mark its first-visit pop-up as seen."""
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if requests.get(f"{address}/server_info", timeout=2).ok:
                requests.post(f"{address}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=10)
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def _report(args: argparse.Namespace) -> int:
    with _imports_kept_for_good():
        from spotify_etl.defs.resources import WarehouseResource
        from spotify_etl.lib.report.build import write_report
    from spotify_etl.settings import load_settings

    settings = load_settings()
    with WarehouseResource.from_settings(settings).connect() as conn:
        path, _ = write_report(conn, settings.reports_dir, listener=args.listener, year=args.year)
    print(path)
    return 0


def _status() -> int:
    with _imports_kept_for_good():
        from spotify_etl.cli.status import warehouse_status

    print(warehouse_status())
    return 0


if __name__ == "__main__":
    console()
