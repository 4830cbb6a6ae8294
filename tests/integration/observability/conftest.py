"""A running service (real uvicorn, real PostgreSQL, the ClickUp emulator) and a /metrics reader."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clickup_sync.clickup.emulator import EmulatorConfig, EmulatorServer
from clickup_sync.clickup.signature import sign_clickup_body
from clickup_sync.db.connection import Database
from clickup_sync.runtime import ServiceRuntime, service_runtime
from clickup_sync.settings import Settings, load_settings
from tests.support.serving import in_process_worker, serving

SCHEMA = "clickup_sync"
SECRET = "observability-test-secret"


@dataclass
class Service:
    runtime: ServiceRuntime
    url: str


@dataclass
class Scrape:
    """One /metrics page, parsed: `value(sample name, label=value…)`; absent series read as None."""

    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    families: dict[str, str]  # family name → type

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        families: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(text, samples, families)

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {labels: value for (sample, labels), value in self.samples.items() if sample == name}

    @property
    def sample_names(self) -> set[str]:
        return {name for name, _ in self.samples}


async def scrape(url: str) -> Scrape:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return Scrape.parse(answer.text)


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": sign_clickup_body(secret, body), "Content-Type": "application/json"}


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def execute(dsn: str, query: str, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(query, params)


def settings_for(emulator: EmulatorServer, database_url: str, **overrides: Any) -> Settings:
    return load_settings(
        clickup_api_url=emulator.base_url,
        clickup_api_token=emulator.token,
        clickup_workspace_id=emulator.team_id,
        clickup_webhook_secret=SECRET,
        database_url=database_url,
        airbyte_mode="off",
        **overrides,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_service(settings: Settings, *, worker: bool = False) -> AsyncIterator[Service]:
    """`serve` as the CLI runs it: the web app on uvicorn, and optionally the worker in-process."""
    database = Database(settings.database_dsn() or "", SCHEMA)
    async with (
        service_runtime(settings, database) as runtime,
        serving(runtime, worker=in_process_worker if worker else None) as url,
    ):
        yield Service(runtime, url)


async def wait_until(condition: Any, seconds: float = 30.0, what: str = "the condition") -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(seed=31, tasks=30, rate_limit_per_minute=None)) as server:
        yield server
