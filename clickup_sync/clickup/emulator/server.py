"""Run the emulator: in-process for tests (`EmulatorServer`, uvicorn in a background thread with its
own event loop) or in the foreground for the CLI (`serve`).

    with EmulatorServer(EmulatorConfig(seed=7, tasks=300)) as emu:
        httpx.get(f"{emu.base_url}/team", headers={"Authorization": emu.token})
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict
from types import TracebackType
from typing import Any

import uvicorn

from clickup_sync.clickup.emulator.activity import ActivitySimulator
from clickup_sync.clickup.emulator.api_common import EmulatorContext
from clickup_sync.clickup.emulator.api_control import apply_config_changes, emulator_stats
from clickup_sync.clickup.emulator.app import build_app
from clickup_sync.clickup.emulator.config import ChaosConfig, EmulatorConfig
from clickup_sync.clickup.emulator.gateway import RequestStats, RuntimeSettings
from clickup_sync.clickup.emulator.webhooks import WebhookDispatcher
from clickup_sync.clickup.emulator.workspace import Workspace
from clickup_sync.web.listen import listening_socket

DEFAULT_TOKEN = "pk_emulator_token"  # noqa: S105 - a public test token, valid only here
_START_TIMEOUT_SECONDS = 30.0


class EmulatorServer:
    """The emulator on a real TCP port, plus handles on its workspace, dispatcher and statistics."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        workspace: Workspace | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.workspace = workspace or Workspace.generate(self.config.seed, self.config.tasks)
        self.dispatcher = WebhookDispatcher(self.config, seed=self.config.seed)
        self.workspace.set_sink(self.dispatcher)
        self.runtime = RuntimeSettings(self.config)
        self.activity = ActivitySimulator(self.workspace, seed=self.config.seed)
        self._context = EmulatorContext(
            self.workspace, self.runtime, RequestStats(), self.dispatcher, self.activity
        )
        self.app = build_app(self._context)
        valid = self.config.valid_tokens
        self.token = DEFAULT_TOKEN if valid is None or DEFAULT_TOKEN in valid else sorted(valid)[0]
        self._socket: socket.socket | None = None
        self._requested_port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    # ----------------------------------------------------------------- addresses
    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the emulator is not started")
        return int(self._socket.getsockname()[1])

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v2"

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("an EmulatorServer starts once; make a new one")
        self._socket = listening_socket(self.host, self._requested_port)
        self._thread = threading.Thread(target=self._run, name="clickup-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not (self._server is not None and self._server.started):
            if self._failure is not None or not self._thread.is_alive():
                raise RuntimeError("the emulator failed to start") from self._failure
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.activity.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to start(); the thread must not die silently
            self._failure = error

    async def _serve(self) -> None:
        assert self._socket is not None
        config = uvicorn.Config(
            self.app,
            interface="asgi3",
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        delivery_loop = asyncio.create_task(self.dispatcher.run())
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            await self.dispatcher.aclose()
            delivery_loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery_loop

    # ----------------------------------------------------------------- controls
    def stats(self) -> dict[str, Any]:
        """The same dict as `GET /_emulator/stats`."""
        return emulator_stats(self._context)

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change run-time knobs, as `PUT /_emulator/config` does (e.g. `valid_tokens`, `chaos`)."""
        if isinstance(changes.get("chaos"), ChaosConfig):
            changes["chaos"] = asdict(changes["chaos"])
        if "valid_tokens" in changes and changes["valid_tokens"] is not None:
            changes["valid_tokens"] = list(changes["valid_tokens"])
        return apply_config_changes(self._context, changes)

    def start_activity(self, rate_per_second: float) -> None:
        self.activity.start(rate_per_second)

    def stop_activity(self) -> None:
        self.activity.stop()

    def activity_status(self) -> dict[str, Any]:
        return self.activity.status()


def serve(
    config: EmulatorConfig, host: str = "127.0.0.1", port: int = 8000, *, activity_rate: float | None = None
) -> None:
    """Serve in the foreground until Ctrl-C (the `clickup-sync emulator` command); with
    `activity_rate`, simulated users change that many things a second from the start."""
    server = EmulatorServer(config, host, port)
    server.start()
    if activity_rate:
        server.start_activity(activity_rate)
    print(
        f"ClickUp emulator on {server.base_url}  team {server.team_id}  token {server.token}  "
        f"({len(server.workspace.live_task_ids())} tasks, seed {config.seed}); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    stopped = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # `docker stop` / systemd send SIGTERM: stop as cleanly as on Ctrl-C.
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
