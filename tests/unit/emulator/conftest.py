"""Fixtures for the emulator's unit tests: a small generated workspace, a recording delivery sink
and an in-memory HTTP client (httpx over ASGI, no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from clickup_sync.clickup.emulator.api_common import EmulatorContext
from clickup_sync.clickup.emulator.app import build_app
from clickup_sync.clickup.emulator.config import EmulatorConfig
from clickup_sync.clickup.emulator.gateway import RequestStats, RuntimeSettings
from clickup_sync.clickup.emulator.webhooks import WebhookSubscription
from clickup_sync.clickup.emulator.workspace import Workspace

SEED = 7
TOKEN = "pk_unit_test_token"


class RecordingSink:
    """Stands in for the dispatcher: keeps every (subscription, payload) handed over."""

    def __init__(self) -> None:
        self.published: list[tuple[WebhookSubscription, dict[str, Any]]] = []

    def publish(self, subscription: WebhookSubscription, payload: dict[str, Any]) -> None:
        self.published.append((subscription, payload))

    def payloads(self, webhook_id: str | None = None) -> list[dict[str, Any]]:
        return [p for s, p in self.published if webhook_id is None or s.id == webhook_id]

    def events(self, webhook_id: str | None = None) -> list[str]:
        return [p["event"] for p in self.payloads(webhook_id)]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def workspace(sink: RecordingSink) -> Workspace:
    return Workspace.generate(SEED, 300, sink)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_client(
    workspace: Workspace, config: EmulatorConfig | None = None, token: str | None = TOKEN
) -> tuple[httpx.AsyncClient, EmulatorContext]:
    config = config or EmulatorConfig(seed=SEED, tasks=300, rate_limit_per_minute=None)
    context = EmulatorContext(workspace, RuntimeSettings(config), RequestStats())
    headers = {"Authorization": token} if token else {}
    transport = httpx.ASGITransport(app=build_app(context))
    return httpx.AsyncClient(transport=transport, base_url="http://emulator", headers=headers), context


ClientFactory = Callable[..., tuple[httpx.AsyncClient, EmulatorContext]]


@pytest.fixture
def make_api() -> ClientFactory:
    """`make_api(workspace, config=None, token=TOKEN)` -> (client, context), for tests that need
    their own knobs (rate limit, valid tokens) or no token at all."""
    return make_client


@pytest.fixture
async def api(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    client, _ = make_client(workspace)
    async with client:
        yield client


class WorkspaceLookup:
    """Finds generated things tests need: a field of a type, a task that can use it, …"""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.state = workspace.state

    def field(self, kind: str, scope: str | None = None) -> Any:
        return next(
            f for f in self.state.fields.values() if f.type == kind and (scope is None or f.scope == scope)
        )

    def task_with_field(self, field_id: str, *, top_level: bool = True) -> Any:
        for task_id in self.state.all_task_ids():
            task = self.state.tasks[task_id]
            if top_level and task.parent_id is not None:
                continue
            if any(f.id == field_id for f in self.state.fields_for_list(task.list_id)):
                return task
        raise LookupError(field_id)

    def open_task(self) -> Any:
        """A top-level, not archived, not closed task without relationships, in a list that is not
        archived and has the statuses "to do" and "review"."""
        for task_id in self.state.all_task_ids():
            task = self.state.tasks[task_id]
            task_list = self.state.lists[task.list_id]
            if (
                task.parent_id is None
                and not task.archived
                and not task_list.archived
                and not self.state.status_of(task).is_closed
                and not task.dependencies
                and not task.links
                and self.state.find_status(task_list, "review") is not None
                and self.state.find_status(task_list, "to do") is not None
            ):
                return task
        raise LookupError("no open task")

    def tasks(self) -> list[Any]:
        return [self.state.tasks[i] for i in self.state.all_task_ids()]

    def big_list_id(self) -> str:
        return max(self.state.lists, key=lambda list_id: len(self.state.task_ids_in_list(list_id)))


@pytest.fixture
def find(workspace: Workspace) -> WorkspaceLookup:
    return WorkspaceLookup(workspace)
