"""What every benchmark needs: a fresh database, an emulator process, a table, a results file."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from clickup_sync.db.connection import with_database_name
from clickup_sync.db.embedded import start_embedded_postgres
from clickup_sync.db.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EMULATOR_PIDS: dict[int, int] = {}  # port → pid of the emulator started by start_emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A fresh, migrated database on `BENCH_DATABASE_URL` / `TEST_DATABASE_URL`, or on an embedded
    server when neither is set. Dropped afterwards."""
    server_dsn = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if not server_dsn:
        embedded = start_embedded_postgres(ROOT / ".cache" / "bench-postgres")
        server_dsn = embedded.dsn
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database_name(server_dsn, name)
    try:
        migrate(dsn, "clickup_sync")
        yield dsn
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded is not None:
            embedded.stop()


@contextlib.contextmanager
def start_emulator(port: int, *, tasks: int, extra: list[str] | None = None) -> Iterator[tuple[str, str]]:
    """`clickup-sync emulator` as its own process; yields (API base URL, team id). Its pid is in
    `EMULATOR_PIDS[port]` while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "clickup_sync", "emulator", "--port", str(port), "--tasks", str(tasks),
         "--rate-limit", "0", *(extra or [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/api/v2"
    EMULATOR_PIDS[port] = process.pid
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                teams = httpx.get(
                    f"{base_url}/team", headers={"Authorization": "pk_emulator_token"}, timeout=5
                )
                if teams.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"the emulator did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.5)
        yield base_url, str(teams.json()["teams"][0]["id"])
    finally:
        EMULATOR_PIDS.pop(port, None)
        process.terminate()
        process.wait(timeout=30)


@dataclass
class MeasuredRun:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    cpu_seconds: float  # user + system time of the process itself


def run_measured(command: list[str], env: dict[str, str]) -> MeasuredRun:
    """Run a command and read its own peak RSS and CPU time from the kernel (wait4), not those of
    other children."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return MeasuredRun(process.returncode, out.read(), err.read(), usage.ru_maxrss / 1024, cpu)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = {c: max(len(c), *(len(_cell(row.get(c))) for row in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(_cell(row.get(c)).ljust(widths[c]) for c in columns))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def save_results(name: str, rows: list[dict[str, Any]]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), "results": rows}, indent=2))
    return path
