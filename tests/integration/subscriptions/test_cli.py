"""`clickup-sync webhooks …` as an operator types it (the `webhooks_app` the main CLI mounts): ids and
health are printed, the secret never is; ClickUp refusing the token is one line and exit code 2."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from clickup_sync.clickup.emulator import EmulatorServer
from clickup_sync.subscriptions.cli import webhooks_app
from tests.integration.subscriptions.conftest import SCHEMA

ENDPOINT = "https://sync.example.com/webhooks/clickup"


@pytest.fixture
def invoke(
    emulator: EmulatorServer, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("POSTGRES_HOST", "CLICKUP_WEBHOOK_SECRET", "APP_ENV", "NODE_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLICKUP_API_URL", emulator.base_url)
    monkeypatch.setenv("CLICKUP_API_TOKEN", emulator.token)
    monkeypatch.setenv("CLICKUP_WORKSPACE_ID", emulator.team_id)
    monkeypatch.setenv("DATABASE_URL", database_url)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # the commands configure logging for the process
    try:
        yield CliRunner()
    finally:
        root.handlers[:], root.level = handlers, level


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(webhooks_app, list(args), catch_exceptions=False)


def stored_secrets(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute(f"SELECT secret FROM {SCHEMA}.webhooks").fetchall()]


def test_register_list_and_delete_as_an_operator_sees_them(
    invoke: CliRunner, emulator: EmulatorServer, database_url: str
) -> None:
    first = run(invoke, "register", "--url", ENDPOINT)
    assert first.exit_code == 0, first.output
    [webhook] = emulator.workspace.list_webhooks(emulator.team_id)["webhooks"]
    assert f"Created webhook {webhook['id']}" in first.output
    assert "Health: active (fail_count 0)" in first.output
    assert stored_secrets(database_url) == [webhook["secret"]]

    again = run(invoke, "register", "--url", ENDPOINT)
    assert again.exit_code == 0, again.output
    assert f"Webhook {webhook['id']} was already registered; reusing it" in again.output
    assert len(emulator.workspace.list_webhooks(emulator.team_id)["webhooks"]) == 1

    subscription = emulator.workspace.subscription(webhook["id"])
    subscription.status, subscription.fail_count = "failing", 3
    listed = run(invoke, "list")
    assert listed.exit_code == 0, listed.output
    assert re.search(rf"{webhook['id']}\s+failing\s+3\s", listed.output)

    deleted = run(invoke, "delete", webhook["id"])
    assert deleted.exit_code == 0, deleted.output
    assert f"Webhook {webhook['id']} deleted in ClickUp; marked deleted here." in deleted.output
    assert emulator.workspace.list_webhooks(emulator.team_id)["webhooks"] == []
    assert "No webhooks registered" in run(invoke, "list").output
    assert re.search(rf"{webhook['id']}\s+deleted \d{{4}}-", run(invoke, "list", "--all").output)

    for result in (first, again, listed, deleted):
        assert webhook["secret"] not in result.output


def test_register_with_a_space_and_events(invoke: CliRunner, emulator: EmulatorServer) -> None:
    space_id = emulator.workspace.spaces(emulator.team_id)["spaces"][0]["id"]
    result = run(
        invoke, "register", "--url", ENDPOINT, "--space", space_id, "--events", "taskCreated,taskUpdated"
    )
    assert result.exit_code == 0, result.output
    assert f"(space {space_id}; events: taskCreated, taskUpdated)" in result.output
    [webhook] = emulator.workspace.list_webhooks(emulator.team_id)["webhooks"]
    assert (webhook["space_id"], webhook["events"]) == (space_id, ["taskCreated", "taskUpdated"])


def test_check_reports_health_in_one_line(invoke: CliRunner, emulator: EmulatorServer) -> None:
    assert run(invoke, "register", "--url", ENDPOINT).exit_code == 0
    result = run(invoke, "check")
    assert result.exit_code == 0, result.output
    assert "Webhook health: 1 checked: 1 active, 0 failing, 0 suspended" in result.output


def test_a_refused_token_is_one_line_and_exit_code_2(invoke: CliRunner, emulator: EmulatorServer) -> None:
    emulator.configure(valid_tokens=["pk_another_token"])
    result = run(invoke, "register", "--url", ENDPOINT)
    assert result.exit_code == 2
    assert result.stderr.startswith("clickup-sync: configuration error: ClickUp refused the API token")
    assert "Traceback" not in result.output
    assert emulator.token not in result.output


def test_an_url_that_is_not_http_is_refused(invoke: CliRunner) -> None:
    result = run(invoke, "register", "--url", "sync.example.com/hook")
    assert result.exit_code == 2
    assert "must be an http(s) URL" in result.output
