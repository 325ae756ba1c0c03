"""The Celery app of `spotify-etl worker`: dagster-celery's tasks, with the broker and result
backend of the settings (SPOTIFY_ETL_CELERY_BROKER, SPOTIFY_ETL_CELERY_BACKEND), and the queue
and task settings of the runs' side (spotify_etl.defs.executor)."""

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

from spotify_etl.defs.executor import celery_settings
from spotify_etl.settings import load_settings

_settings = load_settings()
app = make_app({"broker": _settings.required_celery_broker(), "backend": _settings.celery_backend})
app.conf.update(celery_settings(_settings))

# The task names the executor sends (dagster_celery.app registers the same three).
execute_plan = create_task(app)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)
