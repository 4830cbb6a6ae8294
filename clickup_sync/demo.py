"""`clickup-sync demo`: everything on one machine with nothing configured.

Starts PostgreSQL (embedded unless one is configured), applies the schema, starts the ClickUp
emulator with a generated workspace and a trickle of simulated user activity, and says in plain
words what runs where. Ctrl-C stops everything and says where the data is kept.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from rich.console import Console

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.db.connection import open_database
from clickup_sync.db.migrate import migrate
from clickup_sync.settings import Settings

DEMO_ACTIVITY_PER_SECOND = 0.5


def run_demo(settings: Settings, *, tasks: int, emulator_port: int, seconds: float = 0.0) -> None:
    console = Console(soft_wrap=True)  # never break a URL or a command across lines
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)

    console.print("[bold]clickup-sync demo[/bold] — starting everything on this machine\n")
    with console.status("Starting PostgreSQL ..."):
        database = open_database(settings)
    try:
        console.print(f"  [green]✓[/green] Database: {database.describe()}")
        applied = migrate(database.dsn, database.schema)
        state = f"applied migrations {applied}" if applied else "already up to date"
        console.print(f"  [green]✓[/green] Schema [bold]{database.schema}[/bold]: {state}")

        config = EmulatorConfig(seed=1, tasks=tasks, rate_limit_per_minute=100)
        with console.status(f"Generating a ClickUp workspace with {tasks} tasks ..."):
            emulator = EmulatorServer(config, host="127.0.0.1", port=emulator_port)
            emulator.start()
        try:
            emulator.start_activity(rate_per_second=DEMO_ACTIVITY_PER_SECOND)
            console.print(f"  [green]✓[/green] ClickUp emulator: {emulator.base_url}")
            console.print(f"      token: {emulator.token}   workspace (team) id: {emulator.team_id}")
            console.print(f"      simulated users make {DEMO_ACTIVITY_PER_SECOND} changes per second")
            console.print("\nTry it:")
            console.print(f'  curl -H "Authorization: {emulator.token}" {emulator.base_url}/team')
            console.print(
                f'  curl -H "Authorization: {emulator.token}" '
                f'"{emulator.base_url}/team/{emulator.team_id}/task?subtasks=true&include_closed=true"'
            )
            console.print(f"  curl {emulator.root_url}/_emulator/stats")
            console.print("\nPress Ctrl-C to stop.")
            deadline = time.monotonic() + seconds if seconds > 0 else None
            while not stop.wait(0.2):
                if deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            emulator.stop()
    finally:
        where = database.describe()
        database.close()
        signal.signal(signal.SIGINT, previous)
        console.print(f"\nStopped. The data is kept in: {where}")
