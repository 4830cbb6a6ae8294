"""Settings: the original service's variable names, one-line errors, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickup_sync.errors import ConfigError
from clickup_sync.settings import load_settings

ALL_VARIABLES = [
    "DATABASE_URL", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD",
    "SYNC_SCHEMA", "DATA_DIR", "CLICKUP_API_TOKEN", "CLICKUP_API_URL", "CLICKUP_WORKSPACE_ID",
    "CLICKUP_TEST_SPACE_ID", "CLICKUP_WEBHOOK_SECRET", "AIRBYTE_TASK_TABLE", "AIRBYTE_MODE", "PORT",
    "APP_ENV", "NODE_ENV", "LOG_LEVEL",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def test_original_env_file_keeps_working(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "POSTGRES_HOST=db.internal\nPOSTGRES_PORT=6543\nPOSTGRES_DB=analytics\nPOSTGRES_USER=sync\n"
        "POSTGRES_PASSWORD=p@ss word\nCLICKUP_API_TOKEN=pk_123_ABC\nCLICKUP_WORKSPACE_ID=9001\n"
        "CLICKUP_TEST_SPACE_ID=42\nPORT=3100\nNODE_ENV=production\n"
    )
    settings = load_settings()
    assert settings.port == 3100
    assert settings.app_env == "production"
    assert settings.clickup_workspace_id == "9001"
    assert settings.database_dsn() == "postgresql://sync:p%40ss%20word@db.internal:6543/analytics"


def test_defaults_when_nothing_is_set() -> None:
    settings = load_settings()
    assert settings.port == 3000
    assert settings.sync_schema == "clickup_sync"
    assert settings.airbyte_task_table == "public.clickup_task"
    assert settings.clickup_api_url == "https://api.clickup.com/api/v2"
    assert settings.app_env == "development"
    assert not settings.database_configured  # the embedded server will be used


def test_database_url_wins_over_postgres_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", "ignored")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:1/d")
    assert load_settings().database_dsn() == "postgresql://u@h:1/d"


def test_app_env_is_an_alias_of_node_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    assert load_settings().app_env == "test"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PORT", "eighty", "PORT: "),
        ("POSTGRES_PORT", "70000", "POSTGRES_PORT: "),
        ("NODE_ENV", "staging", "APP_ENV (or NODE_ENV): "),
        ("SYNC_SCHEMA", 'x"; DROP SCHEMA public; --', "SYNC_SCHEMA: must be a lowercase SQL identifier"),
        ("AIRBYTE_TASK_TABLE", "a.b.c", "AIRBYTE_TASK_TABLE: must be a table name"),
        ("CLICKUP_API_URL", "api.clickup.com", "CLICKUP_API_URL: must be an http(s) URL"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: "),
    ],
)
def test_invalid_value_names_the_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_secrets_never_appear_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKUP_API_TOKEN", "pk_supersecret")
    monkeypatch.setenv("POSTGRES_PASSWORD", "hunter2")
    monkeypatch.setenv("CLICKUP_WEBHOOK_SECRET", "whsec_abc")
    settings = load_settings()
    shown = repr(settings) + str(settings)
    for secret in ("pk_supersecret", "hunter2", "whsec_abc"):
        assert secret not in shown
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("POSTGRES_PORT", "not-a-port")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    assert "pk_supersecret" not in str(caught.value)
