"""The procrastinate app. Opened with the runtime's pool (see `clickup_sync/runtime.py`)."""

from __future__ import annotations

from procrastinate import App, PsycopgConnector

from clickup_sync.settings import Settings


def build_queue_app(settings: Settings) -> App:
    """An app whose connector gets its pool from `App.open_async(pool=…)`, and its tasks."""
    from clickup_sync.queue.tasks import register_tasks  # tasks import the runtime: avoid a cycle

    app = App(connector=PsycopgConnector())
    register_tasks(app, settings)
    return app
