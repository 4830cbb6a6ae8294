"""Secrets never reach the log output, whatever path they take into a message."""

from __future__ import annotations

import json
import logging

import pytest

from clickup_sync.logs import configure_logging, redact
from clickup_sync.settings import load_settings


def test_redact_masks_tokens_and_passwords() -> None:
    text = "GET with Authorization: pk_81_XYZ and Bearer abc.def to postgresql://u:hunter2@h/db password=x1"
    masked = redact(text)
    for secret in ("pk_81_XYZ", "abc.def", "hunter2", "x1"):
        assert secret not in masked
    assert "postgresql://u:***@h/db" in masked


def test_production_logs_are_json_without_configured_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("CLICKUP_WEBHOOK_SECRET", "shh-very-secret")
    configure_logging(load_settings())
    try:
        logging.getLogger("clickup_sync.test").warning(
            "secret is %s", "shh-very-secret", extra={"task_id": "9hx"}
        )
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["level"] == "warning"
        assert entry["task_id"] == "9hx"
        assert "shh-very-secret" not in line
    finally:
        logging.getLogger().handlers.clear()
