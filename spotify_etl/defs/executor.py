"""The executor of every run. By default each step runs in the run's own process: every step
pushes its work down to PostgreSQL, and a process per step would only add start-up time. With
a Celery broker set (SPOTIFY_ETL_CELERY_BROKER) the steps of runs launched from the UI, a
sensor or a schedule go to the workers of `spotify-etl worker` instead (dagster-celery), on as
many machines as share the broker, the Dagster instance (deploy/dagster.yaml) and the warehouse.

A step is acknowledged only once it is done, and a worker lost mid-step hands it back to the
queue, so another worker runs it again; every step may run again safely (ingestion skips what
is stored, a fact load replaces its months)."""

import dagster as dg

from spotify_etl.settings import DEFAULT_CELERY_BACKEND, Settings

# The Celery settings of both sides: the runs' (below) and the workers' (spotify_etl/cli/celery_app.py).
CELERY_TASK_SETTINGS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
}


def celery_settings(settings: Settings) -> dict:
    """CELERY_TASK_SETTINGS, and the queue of this deployment (several may share a broker)."""
    return {**CELERY_TASK_SETTINGS, "task_default_queue": settings.celery_queue}


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    if not settings.celery_broker:
        return dg.in_process_executor
    from dagster_celery import celery_executor

    # By name, not value: a broker URL may hold a password, and executor config shows in the UI.
    backend = (
        {"env": "SPOTIFY_ETL_CELERY_BACKEND"}
        if settings.celery_backend != DEFAULT_CELERY_BACKEND
        else settings.celery_backend
    )
    return celery_executor.configured(
        {
            "broker": {"env": "SPOTIFY_ETL_CELERY_BROKER"},
            "backend": backend,
            "config_source": celery_settings(settings),
        },
        name="celery",
    )
