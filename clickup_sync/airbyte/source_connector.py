"""Run Airbyte's own ClickUp source connector against any ClickUp API v2 base URL (our emulator).

The connector (PyPI `airbyte-source-clickup-api` 0.2.0, the last release published there) lives in
its own virtualenv because it pins airbyte-cdk 4.x and Python <3.12, which must not leak into ours.
Its manifest hard-codes `https://api.clickup.com/api/v2/` and offers no config option or environment
variable for the URL, so we run a copy of the wheel's manifest with that one string replaced, through
the CDK's `ManifestDeclarativeSource`, as a subprocess speaking the Airbyte protocol on stdout.

    venv = ensure_connector_venv(Path(".cache"))
    manifest = patched_manifest(venv, emulator.base_url, tmp_dir / "manifest.yaml")
    result = read(venv, manifest, {"api_token": token}, ["team", "task"])
    result.records["task"]  # the task payloads exactly as Airbyte would hand them to a destination
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clickup_sync.errors import PermanentError

CONNECTOR_PACKAGE = "airbyte-source-clickup-api"
CONNECTOR_VERSION = "0.2.0"
CONNECTOR_VENV_NAME = f"{CONNECTOR_PACKAGE}-{CONNECTOR_VERSION}"
CLICKUP_PRODUCTION_BASE_URL = "https://api.clickup.com/api/v2/"
# The wheel's metadata says Requires-Python >=3.10,<3.12.
SUPPORTED_PYTHON_VERSIONS = ((3, 10), (3, 11))
DEFAULT_TIMEOUT_SECONDS = 600.0

_STAMP_FILE_NAME = ".install-complete"
_PIP_OUTPUT_TAIL_LINES = 40

# Reference §2.3 runner (a): the CDK reads a manifest dict and speaks the Airbyte protocol.
_RUNNER_SCRIPT = """\
import sys

import yaml
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.sources.declarative.manifest_declarative_source import ManifestDeclarativeSource

with open(sys.argv[1], encoding="utf-8") as manifest_file:
    manifest = yaml.safe_load(manifest_file)
launch(ManifestDeclarativeSource(source_config=manifest), sys.argv[2:])
"""


class ConnectorError(PermanentError):
    """The connector cannot be installed or run, or its manifest is not the one this runner knows."""


@dataclass
class ConnectorCheckResult:
    """The connector's CONNECTION_STATUS answer to `check`."""

    succeeded: bool
    message: str | None
    errors: list[str]
    elapsed_seconds: float


@dataclass
class ConnectorReadResult:
    """What one `read` produced: records per stream in emission order, and every error it reported."""

    records: dict[str, list[dict[str, Any]]]
    errors: list[str]
    elapsed_seconds: float


@dataclass
class ParsedConnectorOutput:
    """The Airbyte messages of one connector run, sorted by what callers look at."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # every non-RECORD message


# ---------------------------------------------------------------------------------------------
# Installing the connector
# ---------------------------------------------------------------------------------------------


def ensure_connector_venv(cache_dir: Path) -> Path:
    """Return `cache_dir/airbyte-source-clickup-api-0.2.0/`, a virtualenv with the connector installed.

    The first call creates it (minutes: pendulum 2.1.2 is built from its sdist); later calls reuse
    it once the stamp file written at the very end of a successful install is present. A half-built
    venv (interrupted install) has no stamp and is rebuilt. A file lock serialises concurrent
    callers (pytest-xdist workers, benchmarks) so only one of them installs.
    """
    cache_dir = cache_dir.absolute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    venv_dir = cache_dir / CONNECTOR_VENV_NAME
    if _is_complete(venv_dir):
        return venv_dir
    with _exclusive_lock(cache_dir / f"{CONNECTOR_VENV_NAME}.lock"):
        if _is_complete(venv_dir):  # another process finished while we waited for the lock
            return venv_dir
        interpreter = find_supported_interpreter()
        started = time.monotonic()
        if venv_dir.exists():
            _progress(f"removing incomplete connector venv {venv_dir}")
            shutil.rmtree(venv_dir)
        _progress(f"creating connector venv {venv_dir} with {interpreter}")
        _run_logged([interpreter, "-m", "venv", str(venv_dir)], "creating the connector venv")
        _progress(f"installing {CONNECTOR_PACKAGE}=={CONNECTOR_VERSION} (the first time takes minutes)")
        _run_logged(
            [
                str(venv_python(venv_dir)),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                f"{CONNECTOR_PACKAGE}=={CONNECTOR_VERSION}",
            ],
            f"pip install {CONNECTOR_PACKAGE}=={CONNECTOR_VERSION}",
        )
        installed_manifest_path(venv_dir)  # fail now, not at first use, if the wheel changed shape
        elapsed = time.monotonic() - started
        (venv_dir / _STAMP_FILE_NAME).write_text(
            f"{CONNECTOR_PACKAGE}=={CONNECTOR_VERSION}\ninterpreter={interpreter}\n"
            f"install_seconds={elapsed:.1f}\n",
            encoding="utf-8",
        )
        _progress(f"connector venv ready in {elapsed:.0f} s")
    return venv_dir


def find_supported_interpreter() -> str:
    """A Python 3.10/3.11 executable: ours if it is one, else `python3.11` from PATH."""
    if sys.version_info[:2] in SUPPORTED_PYTHON_VERSIONS:
        return sys.executable
    on_path = shutil.which("python3.11")
    if on_path is not None:
        return on_path
    running = ".".join(str(part) for part in sys.version_info[:3])
    raise ConnectorError(
        f"{CONNECTOR_PACKAGE} {CONNECTOR_VERSION} requires Python >=3.10,<3.12; this is Python {running} "
        "and no python3.11 is on PATH. Install Python 3.11 (e.g. `apt-get install python3.11`) and retry."
    )


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def installed_manifest_path(venv_dir: Path) -> Path:
    """The wheel's `source_clickup_api/manifest.yaml` inside the connector venv."""
    candidates = sorted(venv_dir.glob("lib/python3.*/site-packages/source_clickup_api/manifest.yaml"))
    if not candidates:
        raise ConnectorError(
            f"source_clickup_api/manifest.yaml not found under {venv_dir}; "
            f"is {CONNECTOR_PACKAGE}=={CONNECTOR_VERSION} installed there?"
        )
    return candidates[0]


def _is_complete(venv_dir: Path) -> bool:
    return (venv_dir / _STAMP_FILE_NAME).is_file() and venv_python(venv_dir).exists()


@contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as lock_file:
        if not _try_lock(lock_file.fileno()):
            _progress(f"waiting for another process installing the connector ({lock_path})")
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _try_lock(file_descriptor: int) -> bool:
    try:
        fcntl.flock(file_descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _run_logged(command: Sequence[str], what: str) -> None:
    """Run an install step, echoing its output as progress; on failure raise with the output's tail."""
    tail: deque[str] = deque(maxlen=_PIP_OUTPUT_TAIL_LINES)
    # The command is built here from our own paths and pinned names, never from outside input.
    with subprocess.Popen(  # noqa: S603
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_connector_environment(),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            _progress(f"  {line.rstrip()}")
    if process.returncode != 0:
        output = "\n".join(tail)
        raise ConnectorError(f"{what} failed with exit code {process.returncode}:\n{output}")


def _progress(message: str) -> None:
    # stderr, so a benchmark's stdout stays machine-readable
    print(f"[airbyte-connector] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Pointing the manifest at another base URL
# ---------------------------------------------------------------------------------------------


def patched_manifest(venv: Path, base_url: str, dest: Path) -> Path:
    """Write to `dest` the wheel's manifest with ClickUp's production URL replaced by `base_url`.

    `base_url` is like `http://127.0.0.1:PORT/api/v2` (a trailing slash is tolerated). Fails if the
    production URL is absent: a manifest we cannot redirect would silently call the real ClickUp.
    """
    original = installed_manifest_path(venv).read_text(encoding="utf-8")
    if CLICKUP_PRODUCTION_BASE_URL not in original:
        raise ConnectorError(
            f"{installed_manifest_path(venv)} does not contain {CLICKUP_PRODUCTION_BASE_URL!r}; "
            "the connector's url_base changed and this runner cannot redirect it"
        )
    patched = original.replace(CLICKUP_PRODUCTION_BASE_URL, base_url.rstrip("/") + "/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(patched, encoding="utf-8")
    return dest


# ---------------------------------------------------------------------------------------------
# Running the connector
# ---------------------------------------------------------------------------------------------


def check(
    venv: Path, manifest: Path, config: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> ConnectorCheckResult:
    """Run `check`; the connector reads the `user` stream to decide (manifest `CheckStream`)."""
    output, elapsed = _run_connector(venv, manifest, config, "check", catalog=None, timeout=timeout)
    statuses = [
        message["connectionStatus"]
        for message in output.messages
        if message.get("type") == "CONNECTION_STATUS"
    ]
    if not statuses:
        return ConnectorCheckResult(False, None, [*output.errors, "no CONNECTION_STATUS message"], elapsed)
    status = statuses[-1]
    succeeded = status.get("status") == "SUCCEEDED"
    return ConnectorCheckResult(succeeded, status.get("message"), output.errors, elapsed)


def discover(
    venv: Path, manifest: Path, config: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, dict[str, Any]]:
    """Stream name → the AirbyteStream the connector describes (json_schema, sync modes, keys)."""
    output, _elapsed = _run_connector(venv, manifest, config, "discover", catalog=None, timeout=timeout)
    catalogs = [message["catalog"] for message in output.messages if message.get("type") == "CATALOG"]
    if output.errors or not catalogs:
        problems = "; ".join(output.errors) or "no CATALOG message"
        raise ConnectorError(f"connector discover failed: {problems}")
    return {stream["name"]: stream for stream in catalogs[-1]["streams"]}


def read(
    venv: Path,
    manifest: Path,
    config: dict[str, Any],
    streams: list[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> ConnectorReadResult:
    """Read `streams` in full_refresh / overwrite, as an Airbyte connection with those streams would."""
    catalog = configured_catalog(discover(venv, manifest, config, timeout=timeout), streams)
    output, elapsed = _run_connector(venv, manifest, config, "read", catalog=catalog, timeout=timeout)
    records = {stream: output.records.get(stream, []) for stream in streams}
    return ConnectorReadResult(records=records, errors=output.errors, elapsed_seconds=elapsed)


def configured_catalog(discovered: dict[str, dict[str, Any]], streams: Sequence[str]) -> dict[str, Any]:
    """The configured catalog for `streams`: every ClickUp stream supports only full_refresh."""
    unknown = [stream for stream in streams if stream not in discovered]
    if unknown:
        offered = sorted(discovered)
        raise ConnectorError(f"streams {unknown} are not offered by the connector; it offers {offered}")
    return {
        "streams": [
            {"stream": discovered[stream], "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for stream in streams
        ]
    }


def parse_connector_output(stdout_lines: Iterable[str]) -> ParsedConnectorOutput:
    """Sort Airbyte protocol messages; non-JSON lines (stray prints) are not protocol and are skipped.

    Errors are TRACE messages of type ERROR and LOG messages at level ERROR or FATAL.
    """
    parsed = ParsedConnectorOutput()
    for line in stdout_lines:
        message = _json_object_or_none(line)
        if message is None:
            continue
        message_type = message.get("type")
        if message_type == "RECORD":
            record = message.get("record", {})
            parsed.records.setdefault(str(record.get("stream")), []).append(record.get("data", {}))
            continue
        parsed.messages.append(message)
        if message_type == "TRACE" and message.get("trace", {}).get("type") == "ERROR":
            error = message["trace"].get("error", {})
            parsed.errors.append(
                f"TRACE ERROR: {error.get('message')} ({error.get('internal_message') or 'no detail'})"
            )
        elif message_type == "LOG" and message.get("log", {}).get("level") in {"ERROR", "FATAL"}:
            parsed.errors.append(f"LOG {message['log']['level']}: {message['log'].get('message')}")
    return parsed


def _json_object_or_none(line: str) -> dict[str, Any] | None:
    stripped = line.strip()
    if not stripped.startswith("{"):
        return None
    try:
        decoded = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _run_connector(
    venv: Path,
    manifest: Path,
    config: dict[str, Any],
    command: str,
    *,
    catalog: dict[str, Any] | None,
    timeout: float,
) -> tuple[ParsedConnectorOutput, float]:
    with tempfile.TemporaryDirectory(prefix="airbyte-clickup-") as work_dir_name:
        work_dir = Path(work_dir_name)
        runner = work_dir / "run_manifest.py"
        runner.write_text(_RUNNER_SCRIPT, encoding="utf-8")
        config_path = work_dir / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        # Absolute paths: the connector runs with the temp dir as its working directory.
        python = str(venv_python(venv.absolute()))
        arguments = [python, str(runner), str(manifest.absolute()), command, "--config", str(config_path)]
        if catalog is not None:
            catalog_path = work_dir / "catalog.json"
            catalog_path.write_text(json.dumps(catalog), encoding="utf-8")
            arguments += ["--catalog", str(catalog_path)]
        started = time.monotonic()
        try:
            completed = subprocess.run(  # noqa: S603 - our venv's python, our runner, our temp files
                arguments,
                capture_output=True,
                text=True,
                env=_connector_environment(),
                cwd=work_dir,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as timed_out:
            raise ConnectorError(f"connector {command} did not finish within {timeout:.0f} s") from timed_out
        elapsed = time.monotonic() - started
    output = parse_connector_output(completed.stdout.splitlines())
    if completed.returncode != 0:
        stderr_tail = "\n".join(completed.stderr.splitlines()[-20:])
        output.errors.append(f"connector {command} exited with code {completed.returncode}: {stderr_tail}")
    return output, elapsed


def _connector_environment() -> dict[str, str]:
    environment = dict(os.environ)
    # DEPLOYMENT_MODE=cloud makes the CDK refuse plain http and private addresses such as 127.0.0.1.
    environment.pop("DEPLOYMENT_MODE", None)
    # Our own venv must not shadow the connector's packages (airbyte-cdk 4, pydantic, requests).
    for variable in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        environment.pop(variable, None)
    # A machine-wide HTTP proxy must not intercept calls to the loopback emulator.
    for variable in ("NO_PROXY", "no_proxy"):
        existing = environment.get(variable, "")
        environment[variable] = ",".join(part for part in (existing, "127.0.0.1", "localhost") if part)
    return environment
