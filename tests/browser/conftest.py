"""A real headless Chromium (Debian's `chromium` package, driven by Playwright) against the real
service served over HTTP. Browser downloads are impossible here, so `playwright install` is never
used: the browser comes from apt, installed by the first test that needs it."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Playwright, sync_playwright

from clickup_sync.db.connection import Database
from clickup_sync.runtime import service_runtime
from clickup_sync.settings import Settings
from clickup_sync.web.app import build_web_app

CHROMIUM_CANDIDATES = ("chromium", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin-browser"  # gitignored


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return found
    return None


def apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def install_chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (a fresh CI machine)."""
    if shutil.which("apt-get") is None:
        pytest.fail(
            "Chromium is not installed and apt-get is unavailable: install Debian's `chromium` package"
        )
    if os.geteuid() != 0:
        pytest.fail(
            "Chromium is not installed: run `apt-get install -y --no-install-recommends chromium` as root"
        )
    command = ("install", "-y", "--no-install-recommends", "chromium")
    result = apt_get(*command)
    if result.returncode != 0:  # a fresh machine has no package lists yet
        update = apt_get("update")
        if update.returncode != 0:
            pytest.fail(f"`apt-get update` failed, cannot install Chromium:\n{update.stderr[-2000:]}")
        result = apt_get(*command)
    found = find_chromium()
    if result.returncode != 0 or found is None:
        pytest.fail(f"`apt-get install chromium` failed:\n{result.stderr[-2000:]}")
    return found


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return find_chromium() or install_chromium()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    """One browser for the whole session; each test opens its own context (cookies, pages)."""
    launched = playwright.chromium.launch(
        executable_path=chromium_path,
        headless=True,
        args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],  # root in a container
    )
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class ServiceThread:
    """`clickup-sync serve`'s web app (no worker) on a free port, in a thread with its own event loop,
    so the synchronous Playwright API can drive it from the test."""

    def __init__(self, settings: Settings, database_url: str, schema: str) -> None:
        self._settings, self._database = settings, Database(database_url, schema)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="admin-service", daemon=True)

    def __enter__(self) -> ServiceThread:
        self._thread.start()
        if not self._started.wait(30) or self._failure is not None:
            raise RuntimeError(f"the service did not start: {self._failure!r}")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)
        self._socket.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
            self._started.set()

    async def _serve(self) -> None:
        async with service_runtime(self._settings, self._database) as runtime:
            config = uvicorn.Config(build_web_app(runtime), log_config=None, lifespan="off", access_log=False)
            self._server = uvicorn.Server(config)
            serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
            while not self._server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has a flag only
                await asyncio.sleep(0.01)
            self._started.set()
            await serving
