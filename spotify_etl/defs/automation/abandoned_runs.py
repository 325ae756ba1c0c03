"""Runs whose process died (killed, or the machine rebooted) are marked failed.

A run left STARTED in the instance counts against its one-run-at-a-time limit, so every run
the sensor queues would wait behind it forever. The command line tags its runs with host and
pid; the next `spotify-etl run`, and the sensor at every tick, fail those whose process is gone.
"""

from __future__ import annotations

import os
import socket

import dagster as dg
import psutil

PID_TAG, HOST_TAG = "spotify_etl/pid", "spotify_etl/host"


def process_tags() -> dict[str, str]:
    """Tags that tie a run to this process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed this machine's tagged runs whose process is gone; return their run ids."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    abandoned = []
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not psutil.pid_exists(pid):
            instance.report_run_failed(run, f"the process running it (pid {pid}) ended without finishing it")
            abandoned.append(run.run_id)
    return abandoned
