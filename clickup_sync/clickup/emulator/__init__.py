"""A faithful ClickUp API v2 emulator: generated workspace, HTTP API, webhooks, activity.

    from clickup_sync.clickup.emulator import EmulatorServer, EmulatorConfig
    with EmulatorServer(EmulatorConfig(seed=7, tasks=300)) as emu:
        ...  # emu.base_url, emu.token, emu.team_id, emu.workspace, emu.dispatcher, emu.stats()

Modules: `generator` (deterministic workspace), `workspace` (state + mutations, thread-safe),
`task_json` / `field_json` / `hierarchy_json` (exact ClickUp JSON), `history` + `publishing`
(webhook history items and deliveries), `gateway` + `ratelimit` (auth, 429s, faults), `app` and
`api_*` (routes), `activity` (simulated users), `server` (uvicorn in a thread, or `serve`).
"""

from clickup_sync.clickup.emulator.activity import ActivityChange, ActivitySimulator
from clickup_sync.clickup.emulator.api_errors import ApiError
from clickup_sync.clickup.emulator.config import ChaosConfig, EmulatorConfig
from clickup_sync.clickup.emulator.queries import TaskQuery
from clickup_sync.clickup.emulator.server import DEFAULT_TOKEN, EmulatorServer, serve
from clickup_sync.clickup.emulator.state import RecordedEvent
from clickup_sync.clickup.emulator.webhooks import DeliveryRecord, WebhookDispatcher, WebhookSubscription
from clickup_sync.clickup.emulator.workspace import Workspace

__all__ = [
    "DEFAULT_TOKEN",
    "ActivityChange",
    "ActivitySimulator",
    "ApiError",
    "ChaosConfig",
    "DeliveryRecord",
    "EmulatorConfig",
    "EmulatorServer",
    "RecordedEvent",
    "TaskQuery",
    "WebhookDispatcher",
    "WebhookSubscription",
    "Workspace",
    "serve",
]
