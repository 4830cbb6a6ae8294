"""The command line as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "CLICKUP_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "clickup_sync", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_creates_the_schema_then_reports_up_to_date(empty_database_url: str, tmp_path: Path) -> None:
    first = run_cli("migrate", env={"DATABASE_URL": empty_database_url}, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Applied migrations 0001" in first.stdout
    second = run_cli("migrate", env={"DATABASE_URL": empty_database_url}, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('clickup_sync.service_state')").fetchone() == (
            "clickup_sync.service_state",
        )


def test_invalid_setting_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"PORT": "not-a-port", "CLICKUP_API_TOKEN": "pk_secret_1"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("clickup-sync: configuration error: PORT:")
    assert "Traceback" not in result.stderr
    assert "pk_secret_1" not in result.stderr


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli(
        "migrate",
        env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    """The README's first command, with nothing configured: embedded PostgreSQL and the emulator."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = str(probe.getsockname()[1])
    result = run_cli(
        "demo",
        "--seconds",
        "3",
        "--tasks",
        "120",
        "--emulator-port",
        "0",
        env={"PORT": free_port},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Database: embedded PostgreSQL" in result.stdout
    assert "ClickUp emulator: http://127.0.0.1:" in result.stdout
    assert "Airbyte (destination-postgres 3.x, simulated): " in result.stdout
    assert "tasks in public.clickup_task" in result.stdout
    assert "Backfill: 1" in result.stdout  # the service mirrored the generated workspace
    assert f"admin:   http://127.0.0.1:{free_port}/admin/   user admin   password " in result.stdout
    assert f"Service: http://127.0.0.1:{free_port}/webhooks/clickup (webhook " in result.stdout
    assert (
        f"The data is kept in: embedded PostgreSQL, data in {tmp_path / 'var' / 'postgres'}" in result.stdout
    )
    assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists()
