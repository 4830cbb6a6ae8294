"""The emulator (webhook retries without waits, so a failing receiver fails in milliseconds), a
ClickUp client on it, a database connection, and receivers that answer what a test needs."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from clickup_sync.clickup.client import ClickUpClient
from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer

SCHEMA = "clickup_sync"


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(seed=23, tasks=50, rate_limit_per_minute=None, webhook_retry_delays=())
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
async def client(emulator: EmulatorServer) -> AsyncIterator[ClickUpClient]:
    async with ClickUpClient(emulator.base_url, emulator.token) as api:
        yield api


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        yield connection


class _AnswerWith(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """An HTTP endpoint answering every delivery with `status` (e.g. 401, which suspends at once)."""

    def __init__(self, status: int) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _AnswerWith)
        self._server.status = status  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/clickup"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def answering_401() -> Iterator[Receiver]:
    with Receiver(401) as receiver:
        yield receiver


@pytest.fixture
def closed_port_url() -> str:
    """A URL nothing listens on: every delivery attempt fails to connect."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhooks/clickup"


def drive_events(emulator: EmulatorServer, changes: int = 1) -> None:
    """Change tasks in the emulator (each change publishes events) and wait until every delivery
    has been attempted as often as it will be."""
    task_ids = emulator.workspace.live_task_ids()
    for number in range(changes):
        name = f"changed while unwatched {uuid.uuid4().hex[:8]}"
        emulator.workspace.update_task(task_ids[number], {"name": name})
    assert emulator.dispatcher.wait_idle(10)
