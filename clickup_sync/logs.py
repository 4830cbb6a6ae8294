"""Logging: readable lines in development, one JSON object per line in production.

Secrets are redacted by a filter on the root handler, so a token that slips into a message (for
example inside an exception from a library) never reaches the output.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from pydantic import SecretStr

from clickup_sync.settings import Settings

# ClickUp personal tokens, bearer tokens, passwords in URLs, and HMAC-ish long hex/alnum secrets.
_SECRET_PATTERNS = [
    (re.compile(r"pk_[A-Za-z0-9_]+"), "pk_***"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"), r"\1***"),
    (re.compile(r"(postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@"), r"\1***@"),
    (re.compile(r"(?i)(password=)\S+"), r"\1***"),
]


def redact(text: str, extra_secrets: tuple[str, ...] = ()) -> str:
    for secret in extra_secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _RedactingFilter(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self._secrets)
            record.exc_info = None
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_job_ids(record))
        for key in ("task_id", "delivery_id", "webhook_id", "job_id"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _job_ids(record: logging.LogRecord) -> dict[str, object]:
    """procrastinate logs each job's start, end and failure with `extra={"job": {...}}`: lift the job id
    and the task's own ids (its arguments) to the top level, where they are searched for."""
    job = getattr(record, "job", None)
    if not isinstance(job, dict):
        return {}
    ids: dict[str, object] = {"job_id": job.get("id")} if job.get("id") is not None else {}
    arguments = job.get("task_kwargs")
    if isinstance(arguments, dict):
        ids.update({key: arguments[key] for key in ("task_id", "delivery_id") if key in arguments})
    return ids


def configure_logging(settings: Settings) -> None:
    # Every secret setting (tokens, passwords, webhook and Airbyte secrets, admin credentials).
    secrets = tuple(
        value.get_secret_value()
        for value in (getattr(settings, name) for name in type(settings).model_fields)
        if isinstance(value, SecretStr)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter(secrets))
    if settings.app_env == "production":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # httpx logs every request at INFO and pgserver every pg_ctl call: noise at our default level.
    for noisy in ("httpx", "pgserver"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
