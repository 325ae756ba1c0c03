"""One logging setup: a rotating file of JSON lines under `$SPOTIFY_ETL_HOME/logs/`, with
secrets redacted wherever they could appear.

Inside Dagster runs the file handler is attached to Dagster's own log manager (the instance's
`python_logs.dagster_handler_config`, written by `ensure_dagster_home`), so every step event
and every `context.log` line lands in the file with its run id and step; the package's own
loggers (`spotify_etl.*`) are managed Python loggers, so their lines also show in the run's
event log in the UI. Outside runs (`spotify-etl status`, `ui`) `configure_logging()` attaches
the same handler to the package logger.

Settings: SPOTIFY_ETL_LOG_LEVEL (INFO), SPOTIFY_ETL_LOG_MAX_BYTES (10 MB),
SPOTIFY_ETL_LOG_BACKUPS (5).
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from urllib.parse import unquote

from spotify_etl.settings import SECRET_VARIABLES, URL_VARIABLES, env, load_settings

LOG_FILE_NAME = "spotify_etl.log"
# Context worth keeping from a record's `extra`: where a problem happened.
CONTEXT_FIELDS = ("file", "position", "uri", "http_status", "sql_step", "counts", "asset")

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_TOKEN_FIELDS = re.compile(
    r"""(["']?(?:access_token|refresh_token|client_secret|password)["']?\s*[:=]\s*["']?)[^"',\s}]+""", re.I
)


def _known_secrets() -> list[str]:
    """Secret values present in this process's environment, longest first."""
    secrets = [value for value in map(env, SECRET_VARIABLES) if value]
    for name in URL_VARIABLES:
        match = _URL_PASSWORD.search(env(name) or "")
        if match:
            secrets += [match["password"], unquote(match["password"])]
    return sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)


def redact(text: str) -> str:
    """The text with passwords in URLs, bearer tokens, token fields and known secrets masked."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    text = _BEARER.sub(r"\1***", text)
    text = _TOKEN_FIELDS.sub(r"\1***", text)
    for secret in _known_secrets():
        text = text.replace(secret, "***")
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, run and step, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        meta = getattr(record, "dagster_meta", None)
        event = None
        if meta:
            entry["run_id"] = meta.get("run_id")
            entry["job"] = meta.get("job_name")
            entry["step"] = meta.get("step_key")
            event = meta.get("dagster_event")
            if event is not None:
                entry["event"] = event.event_type_value
            message = meta.get("orig_message") or record.getMessage()
        else:
            message = record.getMessage()
        entry["message"] = redact(str(message))
        if event is not None and event.is_step_failure:
            error = event.step_failure_data.error
            if error is not None:
                entry["exception"] = {
                    "type": error.cls_name,
                    "message": redact(error.message.strip()),
                    "traceback": redact(error.to_string()),
                }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["exception"] = {
                "type": type(exc).__name__,
                "message": redact(str(exc)),
                "traceback": redact("".join(traceback.format_exception(*record.exc_info))),
            }
        return json.dumps({k: v for k, v in entry.items() if v is not None}, ensure_ascii=False, default=str)


def log_path() -> Path:
    return load_settings().home / "logs" / LOG_FILE_NAME


class SpotifyEtlFileHandler(RotatingFileHandler):
    """The rotating JSON log file; needs no arguments, so Dagster's instance config can build it."""

    def __init__(self, path: str | None = None, max_bytes: int | None = None, backups: int | None = None):
        settings = load_settings()
        target = Path(path) if path else log_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            target,
            maxBytes=max_bytes or settings.log_max_bytes,
            backupCount=backups if backups is not None else settings.log_backups,
            encoding="utf-8",
            delay=True,
        )
        self.setFormatter(JsonFormatter())
        # Dagster's step events are DEBUG records; they are kept whatever the level, plain
        # messages only from the configured level up.
        self.setLevel(logging.DEBUG)
        self.threshold = logging.getLevelName(log_level())

    def filter(self, record: logging.LogRecord) -> bool:
        meta = getattr(record, "dagster_meta", None)
        is_event = bool(meta and meta.get("dagster_event") is not None)
        return (is_event or record.levelno >= self.threshold) and super().filter(record)


def log_level() -> str:
    return load_settings().log_level


_base_factory = logging.getLogRecordFactory()


def _redacting_record_factory(*args, **kwargs) -> logging.LogRecord:
    """Records of the package's loggers leave with secrets masked, before any handler or
    Dagster's event log sees them."""
    record = _base_factory(*args, **kwargs)
    if record.name and record.name.startswith("spotify_etl"):
        record.msg = redact(record.getMessage())
        record.args = None
    return record


logging.setLogRecordFactory(_redacting_record_factory)


def configure_logging() -> None:
    """Attach the file handler to the package logger (for work outside Dagster runs)."""
    logger = logging.getLogger("spotify_etl")
    if not any(isinstance(h, SpotifyEtlFileHandler) for h in logger.handlers):
        logger.addHandler(SpotifyEtlFileHandler())
    logger.setLevel(log_level())
