"""An embedded PostgreSQL for machines where none is configured (the demo, tests without a server).

Uses `pgserver`, a pip-installable PostgreSQL build, with its data folder under the working
directory so the data outlives the process and the user can find it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running embedded server. `stop()` stops it and keeps the data folder."""

    data_dir: Path
    dsn: str
    _server: Any

    def stop(self) -> None:
        self._server.cleanup()


def start_embedded_postgres(data_dir: Path, *, keep_running: bool = False) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server whose data lives in `data_dir`.

    With `keep_running`, the server is left running when this process exits (tests share one).
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp,
        # which is fine for pgserver's bookkeeping.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server  # lazily: only this path needs the binaries

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", data_dir)
    server = get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    return EmbeddedPostgres(data_dir=data_dir, dsn=server.get_uri(), _server=server)
