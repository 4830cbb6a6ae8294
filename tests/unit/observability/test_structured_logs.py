"""Production log lines carry the ids of the job's task and delivery; every secret setting is masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest

from clickup_sync.logs import configure_logging
from clickup_sync.settings import load_settings


@pytest.fixture
def production_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call it inside the test: the handler writes to whatever sys.stderr is when it is made."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("ADMIN_PASSWORD", "admin-pass-4821")
    monkeypatch.setenv("ADMIN_TOKEN", "admin-token-99z")
    monkeypatch.setenv("AIRBYTE_CLIENT_SECRET", "airbyte-secret-7q")
    yield lambda: configure_logging(load_settings())
    logging.getLogger().handlers.clear()


def last_entry(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return dict(json.loads(capsys.readouterr().err.strip().splitlines()[-1]))


def test_procrastinate_job_lines_carry_the_job_task_and_delivery_ids(
    production_logs: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    production_logs()
    job = {"id": 42, "task_name": "process_delivery", "task_kwargs": {"delivery_id": 7}, "lock": "task:9hx"}
    logging.getLogger("procrastinate.worker").info(
        "Job succeeded", extra={"action": "job_success", "job": job}
    )
    entry = last_entry(capsys)
    assert (entry["job_id"], entry["delivery_id"]) == (42, 7)
    logging.getLogger("procrastinate.worker").info(
        "Starting job", extra={"job": {"id": 43, "task_kwargs": {"task_id": "9hx"}}}
    )
    assert last_entry(capsys)["task_id"] == "9hx"


def test_every_secret_setting_is_masked(
    production_logs: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    production_logs()
    logging.getLogger("clickup_sync.test").warning(
        "%s %s %s", "admin-pass-4821", "admin-token-99z", "airbyte-secret-7q"
    )
    message = str(last_entry(capsys)["message"])
    for secret in ("admin-pass-4821", "admin-token-99z", "airbyte-secret-7q"):
        assert secret not in message
