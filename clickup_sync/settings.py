"""The one settings object: read once from the environment and an optional `.env`, then frozen.

Variable names of the original Node.js service (`POSTGRES_*`, `CLICKUP_API_TOKEN`, `PORT`, `NODE_ENV`, …)
stay valid, so an existing `.env` keeps working. Every setting is listed in `docs/configuration.md`;
a test fails when one is missing there.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clickup_sync.errors import ConfigError

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_QUALIFIED_TABLE = re.compile(r"^(?:([A-Za-z_][A-Za-z0-9_]{0,62})\.)?([A-Za-z_][A-Za-z0-9_]{0,62})$")

AppEnv = Literal["development", "production", "test"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
AirbyteMode = Literal["auto", "on", "off"]


class Settings(BaseSettings):
    """Validated, immutable configuration. Secrets are `SecretStr`: their repr is masked."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        case_sensitive=False,
        populate_by_name=True,
    )

    # --- database --------------------------------------------------------------------------
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")
    postgres_host: str | None = Field(default=None, validation_alias="POSTGRES_HOST")
    postgres_port: int = Field(default=5432, ge=1, le=65535, validation_alias="POSTGRES_PORT")
    postgres_db: str = Field(default="postgres", validation_alias="POSTGRES_DB")
    postgres_user: str = Field(default="postgres", validation_alias="POSTGRES_USER")
    postgres_password: SecretStr | None = Field(default=None, validation_alias="POSTGRES_PASSWORD")
    sync_schema: str = Field(default="clickup_sync", validation_alias="SYNC_SCHEMA")
    data_dir: Path = Field(default=Path("var"), validation_alias="DATA_DIR")

    # --- ClickUp -----------------------------------------------------------------------------
    clickup_api_token: SecretStr | None = Field(default=None, validation_alias="CLICKUP_API_TOKEN")
    clickup_api_url: str = Field(default="https://api.clickup.com/api/v2", validation_alias="CLICKUP_API_URL")
    clickup_workspace_id: str | None = Field(default=None, validation_alias="CLICKUP_WORKSPACE_ID")
    clickup_test_space_id: str | None = Field(default=None, validation_alias="CLICKUP_TEST_SPACE_ID")
    clickup_webhook_secret: SecretStr | None = Field(default=None, validation_alias="CLICKUP_WEBHOOK_SECRET")

    # --- Airbyte -----------------------------------------------------------------------------
    airbyte_task_table: str = Field(default="public.clickup_task", validation_alias="AIRBYTE_TASK_TABLE")
    airbyte_mode: AirbyteMode = Field(default="auto", validation_alias="AIRBYTE_MODE")
    airbyte_raw_schema: str = Field(default="airbyte_internal", validation_alias="AIRBYTE_RAW_SCHEMA")
    airbyte_api_url: str | None = Field(default=None, validation_alias="AIRBYTE_API_URL")
    airbyte_connection_id: str | None = Field(default=None, validation_alias="AIRBYTE_CONNECTION_ID")
    airbyte_api_token: SecretStr | None = Field(default=None, validation_alias="AIRBYTE_API_TOKEN")
    airbyte_client_id: str | None = Field(default=None, validation_alias="AIRBYTE_CLIENT_ID")
    airbyte_client_secret: SecretStr | None = Field(default=None, validation_alias="AIRBYTE_CLIENT_SECRET")
    airbyte_poll_seconds: float = Field(default=5.0, gt=0, validation_alias="AIRBYTE_POLL_INTERVAL")
    airbyte_include_closed_tasks: bool = Field(default=False, validation_alias="AIRBYTE_INCLUDE_CLOSED_TASKS")
    base_record_max_wait: timedelta = Field(
        default=timedelta(hours=26), validation_alias="BASE_RECORD_MAX_WAIT"
    )

    # --- real-time pipeline ----------------------------------------------------------------------
    worker_concurrency: int = Field(default=4, ge=1, le=64, validation_alias="WORKER_CONCURRENCY")
    job_max_attempts: int = Field(default=6, ge=1, le=50, validation_alias="JOB_MAX_ATTEMPTS")
    reconcile_interval_seconds: int = Field(default=300, ge=10, validation_alias="RECONCILE_INTERVAL_SECONDS")
    webhook_health_interval_seconds: int = Field(
        default=300, ge=10, validation_alias="WEBHOOK_HEALTH_INTERVAL_SECONDS"
    )
    delivery_retention_days: int = Field(default=30, ge=0, validation_alias="DELIVERY_RETENTION_DAYS")

    # --- operations: admin page and metrics -----------------------------------------------------
    admin_user: str = Field(default="admin", min_length=1, validation_alias="ADMIN_USER")
    admin_password: SecretStr | None = Field(default=None, validation_alias="ADMIN_PASSWORD")
    admin_token: SecretStr | None = Field(default=None, validation_alias="ADMIN_TOKEN")
    worker_metrics_port: int = Field(default=0, ge=0, le=65535, validation_alias="WORKER_METRICS_PORT")

    # --- process -----------------------------------------------------------------------------
    port: int = Field(default=3000, ge=1, le=65535, validation_alias="PORT")
    app_env: AppEnv = Field(default="development", validation_alias=AliasChoices("APP_ENV", "NODE_ENV"))
    log_level: LogLevel = Field(default="INFO", validation_alias="LOG_LEVEL")

    @field_validator("sync_schema")
    @classmethod
    def _schema_is_plain_identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a lowercase SQL identifier (letters, digits, _; at most 63 characters)")
        return value

    @field_validator("airbyte_task_table")
    @classmethod
    def _table_is_qualified_name(cls, value: str) -> str:
        if not _QUALIFIED_TABLE.match(value):
            raise ValueError("must be a table name, optionally schema-qualified, like public.clickup_task")
        return value if "." in value else f"public.{value}"

    @field_validator("base_record_max_wait", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """Accept `26h`, `90m`, `45s`, `2d` as well as seconds and ISO 8601 (`PT26H`)."""
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
            if match:
                unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
                return timedelta(seconds=float(match[1]) * unit)
        return value

    @field_validator("clickup_api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL like https://api.clickup.com/api/v2")
        return value.rstrip("/")

    @field_validator("app_env", mode="before")
    @classmethod
    def _lowercase_env(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _uppercase_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    # --- derived -----------------------------------------------------------------------------
    @property
    def database_configured(self) -> bool:
        """False when neither DATABASE_URL nor POSTGRES_HOST is set: the embedded server is used."""
        return self.database_url is not None or self.postgres_host is not None

    def database_dsn(self) -> str | None:
        """The connection string, `DATABASE_URL` first. Holds the password: never log it."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        if self.postgres_host is None:
            return None
        password = self.postgres_password.get_secret_value() if self.postgres_password else ""
        auth = quote(self.postgres_user, safe="") + (f":{quote(password, safe='')}" if password else "")
        database = quote(self.postgres_db, safe="")
        return f"postgresql://{auth}@{self.postgres_host}:{self.postgres_port}/{database}"

    @property
    def airbyte_table_parts(self) -> tuple[str, str]:
        schema, _, table = self.airbyte_task_table.partition(".")
        return schema, table


_SECRET_VARIABLES = {
    "DATABASE_URL", "POSTGRES_PASSWORD", "CLICKUP_API_TOKEN", "CLICKUP_WEBHOOK_SECRET", "AIRBYTE_API_TOKEN",
    "AIRBYTE_CLIENT_SECRET",
}  # fmt: skip


def setting_variable_names() -> list[str]:
    """Every environment variable the settings read (aliases included), for docs and checks."""
    names: list[str] = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.extend(str(choice) for choice in alias.choices)
        else:
            names.append(str(alias))
    return names


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; on a bad value raise `ConfigError` with one line naming the variable.

    The offending value is quoted only for non-secret variables.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        # pydantic-settings reports the variable name (the alias) that carried the bad value.
        env_name = str(error["loc"][0]).upper() if error["loc"] else "?"
        if env_name == "APP_ENV":
            env_name = "APP_ENV (or NODE_ENV)"
        message = error["msg"].removeprefix("Value error, ")
        shown = "" if env_name in _SECRET_VARIABLES or "input" not in error else f" (got {error['input']!r})"
        raise ConfigError(f"{env_name}: {message}{shown}") from None
