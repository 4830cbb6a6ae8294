"""The deployment files agree with the code: `.env.example` lists every setting, grouped like
docs/configuration.md; docker-compose.yml has PostgreSQL 16 with a volume and healthchecks and runs
`serve` against it; the Dockerfile installs the package with the README's command, runs
`clickup-sync serve` as a non-root user, and its healthcheck really detects an unhealthy service.
The operations docs (deployment, runbook, scaling) cite only commands, options, settings, tables and
metrics that exist, and their links resolve.

No Docker engine runs here: the files are read, and `docker compose config -q` runs only when the
compose plugin is installed.
"""

from __future__ import annotations

import fnmatch
import http.server
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import procrastinate
import pytest
import typer.main
import yaml  # PyYAML: installed with uvicorn[standard]

from clickup_sync.cli import app as cli_app
from clickup_sync.errors import ConfigError
from clickup_sync.settings import Settings, load_settings, setting_variable_names

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
APP_SERVICE = "clickup-sync"

# `NAME=value` (active) or `# NAME=value` (off, showing the default or an example).
_ENV_LINE = re.compile(r"^(?P<off>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
# `# ----- Group name` section headers of .env.example.
_ENV_GROUP = re.compile(r"^#\s*-{3,}\s*(?P<group>\S.*?)\s*$")
_PORT_MAPPING = re.compile(r"(?:(?P<ip>[0-9.]+):)?(?P<host>\$\{[^}]+\}|\d+):(?P<container>\$\{[^}]+\}|\d+)")
_INTERPOLATION = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:?[-?+][^}]*)?\}")


# ------------------------------------------------------------------------------------ helpers
@dataclass(frozen=True)
class EnvEntry:
    name: str
    value: str
    active: bool
    group: str | None
    line: int


def env_example_entries() -> list[EnvEntry]:
    entries: list[EnvEntry] = []
    group: str | None = None
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), start=1):
        header = _ENV_GROUP.match(line)
        if header:
            group = header["group"]
            continue
        match = _ENV_LINE.match(line)
        if match:
            entries.append(EnvEntry(match["name"], match["value"], not match["off"], group, number))
    return entries


def configuration_groups() -> dict[str, str]:
    """Setting name → the `## Group` of docs/configuration.md whose table lists it."""
    groups: dict[str, str] = {}
    group = ""
    for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            group = line[3:].strip()
        match = re.match(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", line)
        if match:
            groups[match[1]] = group
    return groups


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the developer's shell or `.env` may hide a problem of the example file."""
    for name in setting_variable_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml is not a YAML mapping"
    return document


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):  # the `- NAME=value` form
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in as_list(command)]


def cli_commands() -> set[str]:
    return set(typer.main.get_group(cli_app).commands)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for kw, arguments in self.instructions if kw == keyword]


def dockerfile_stages() -> list[Stage]:
    """The Dockerfile's stages, with line continuations joined and `${ARG}` defaults resolved."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    assert not current, "the Dockerfile ends inside a line continuation"
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in logical:
        keyword, _, rest = instruction.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            arguments[name] = default
        elif keyword == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: arguments.get(m[1], m[0]), rest)
            parts = image.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest))
    return stages


def json_or_shell(arguments: str) -> list[str]:
    """An instruction's exec form (`["a", "b"]`) or shell form, as a list of words."""
    if arguments.startswith("["):
        parsed = yaml.safe_load(arguments)  # a JSON array is YAML too
        assert isinstance(parsed, list)
        return [str(part) for part in parsed]
    return shlex.split(arguments)


def dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: the last matching pattern wins, `!` re-includes, a pattern that
    matches a directory excludes everything in it."""
    candidates = [path] + ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        globs = [glob, glob.removeprefix("**/")] if glob.startswith("**/") else [glob]
        if any(fnmatch.fnmatchcase(candidate, g) for candidate in candidates for g in globs):
            ignored = not negated
    return ignored


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------- .env.example
def test_env_example_lists_every_setting_once() -> None:
    names = [entry.name for entry in env_example_entries()]
    missing = [name for name in setting_variable_names() if name not in names]
    assert missing == [], f".env.example lacks {missing}"
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert duplicates == [], f".env.example sets {duplicates} more than once"
    unknown = sorted(set(names) - set(setting_variable_names()))
    assert unknown == [], f".env.example has {unknown}, which the service does not read"


def test_env_example_is_grouped_like_the_configuration_reference() -> None:
    documented = configuration_groups()
    misplaced = {
        entry.name: (entry.group, documented.get(entry.name))
        for entry in env_example_entries()
        if entry.group != documented.get(entry.name)
    }
    assert misplaced == {}, "setting: (group in .env.example, group in docs/configuration.md)"


def test_every_env_example_setting_is_explained() -> None:
    """Each setting (or a run of settings explained together) has a comment right above it."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    unexplained = []
    for entry in env_example_entries():
        above = entry.line - 2  # index of the line above
        while above >= 0 and _ENV_LINE.match(lines[above]):
            above -= 1
        if above < 0 or not lines[above].startswith("#") or _ENV_GROUP.match(lines[above]):
            unexplained.append(entry.name)
    assert unexplained == []


def test_active_env_example_lines_read_the_same_in_compose_and_python() -> None:
    """Compose's and python-dotenv's parsers differ on quotes, inline comments and empty values."""
    for entry in env_example_entries():
        if not entry.active:
            continue
        assert entry.value, f"{entry.name}= is empty: an empty value is not 'unset'; comment it out"
        assert " #" not in entry.value and "\t#" not in entry.value, f"{entry.name}: inline comment"
        assert not entry.value.startswith(("'", '"')), f"{entry.name}: quoted value"
        assert entry.value == entry.value.strip(), f"{entry.name}: surrounding spaces"


def test_env_made_from_the_example_is_valid(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings()
    assert settings.app_env == "production"
    assert settings.port == Settings.model_fields["port"].default
    assert settings.database_url is None, "DATABASE_URL would win over compose's POSTGRES_HOST"


def test_every_example_value_in_env_example_is_valid(clean_environment: Path) -> None:
    """Uncommenting any line that shows a value must give a valid setting."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^#\s*([A-Z][A-Z0-9_]*=.+)$", r"\1", text)
    (clean_environment / ".env").write_text(uncommented, encoding="utf-8")
    try:
        load_settings()
    except ConfigError as error:
        pytest.fail(f"an example value in .env.example is invalid: {error}")


# ------------------------------------------------------------------------------ docker-compose.yml
def test_compose_runs_postgres_16_with_a_volume_and_a_healthcheck() -> None:
    compose = load_compose()
    services = compose.get("services") or {}
    postgres = services.get("postgres")
    assert postgres, "no `postgres` service"
    assert str(postgres.get("image", "")).startswith("postgres:16")
    data_volumes = [
        str(volume).split(":")[0]
        for volume in as_list(postgres.get("volumes"))
        if str(volume).split(":")[1:2] == ["/var/lib/postgresql/data"]
    ]
    assert data_volumes, "PostgreSQL's data directory is not on a volume"
    assert data_volumes[0] in (compose.get("volumes") or {}), "its volume is not a named volume"
    assert "pg_isready" in " ".join(as_list(postgres["healthcheck"]["test"]))
    assert not postgres["healthcheck"].get("disable")


def test_compose_serves_against_its_postgres() -> None:
    services = load_compose()["services"]
    service = services.get(APP_SERVICE)
    assert service, f"no `{APP_SERVICE}` service"
    assert command_of(service) == ["serve"]
    assert "serve" in cli_commands()
    assert service.get("build") in (".", {"context": "."}), "it must build the repository's Dockerfile"
    assert ".env" in [str(item.get("path", item)) if isinstance(item, dict) else item
                      for item in as_list(service.get("env_file"))]  # fmt: skip
    environment = environment_of(service)
    assert environment.get("POSTGRES_HOST") == "postgres" or "@postgres:" in environment.get(
        "DATABASE_URL", ""
    ), "the service must reach the `postgres` service"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    mappings = [_PORT_MAPPING.fullmatch(str(port)) for port in as_list(service.get("ports"))]
    assert mappings and all(mappings), f"unexpected port mappings {service.get('ports')}"
    # PORT is the service's port inside the container (env_file and environment) and on the host.
    assert any(m["host"] == m["container"] == "${PORT:-3000}" for m in mappings if m), mappings
    assert environment.get("PORT") == "${PORT:-3000}", "the container must listen on the mapped PORT"
    assert "/healthz" in " ".join(as_list(service["healthcheck"]["test"]))


def test_compose_workers_run_the_worker_command() -> None:
    services = load_compose()["services"]
    for name, service in services.items():
        if name == "worker" or command_of(service)[:1] == ["worker"]:
            assert command_of(service) == ["worker"]
            assert "worker" in cli_commands()
            assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
            # A worker has no HTTP server: the image's /healthz check would call it unhealthy.
            assert service.get("healthcheck", {}).get("disable") is True
            assert environment_of(service).get("POSTGRES_HOST") == "postgres"


def test_compose_interpolates_only_settings_the_example_sets() -> None:
    """Compose reads `.env` for ${...}: a required variable must be set (active) in the example."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    active = {entry.name for entry in env_example_entries() if entry.active}
    settings = set(setting_variable_names())
    for match in _INTERPOLATION.finditer(text):
        assert match["name"] in settings, f"${{{match['name']}}} is not a setting"
        if (match["modifier"] or "").startswith((":?", "?")) or not match["modifier"]:
            assert match["name"] in active, f"{match['name']} is required by compose but off in .env.example"
    for service in load_compose()["services"].values():
        for name in environment_of(service):
            assert name in settings or service.get("image", "").startswith("postgres"), name


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip(
            "the `docker compose` plugin (or docker-compose) is not installed, only the docker client; "
            "docker-compose.yml was checked structurally by the other tests"
        )
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")  # `cp .env.example .env`, as the docs say
    result = subprocess.run(
        [*command, "--project-directory", str(tmp_path), "-f", str(tmp_path / "docker-compose.yml"),
         "config", "-q"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------ Dockerfile
def test_dockerfile_is_multi_stage_on_slim_python() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "build and runtime must be separate stages"
    assert all(stage.name for stage in stages), "every stage is named (FROM ... AS name)"
    required = pyproject()["project"]["requires-python"]
    minimum = tuple(int(part) for part in re.findall(r"\d+", required)[:2])
    for stage in stages:
        match = re.fullmatch(r"python:(\d+)\.(\d+)-slim(?:-\w+)?", stage.image)
        assert match, f"{stage.image}: expected an official slim Python image"
        assert (int(match[1]), int(match[2])) >= minimum, f"{stage.image} is older than {required}"
    runtime = stages[-1]
    builders = {stage.name for stage in stages[:-1]}
    copied_from = [re.search(r"--from=(\S+)", arguments) for arguments in runtime.all("COPY")]
    assert any(match and match[1] in builders for match in copied_from), "runtime copies the build"
    assert not any("pip install" in run for run in runtime.all("RUN")), "the runtime stage installs nothing"


def test_dockerfile_installs_the_package_like_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"(?m)^pip install \.\s*$", readme), "the README's install command changed"
    builder_runs = " && ".join(run for stage in dockerfile_stages()[:-1] for run in stage.all("RUN"))
    assert re.search(r"\bpip install \.(?=\s|$)", builder_runs), "the image must `pip install .`"
    assert "pip install -e" not in builder_runs, "an editable install would point at the build stage"


def test_dockerfile_copies_what_pip_install_needs_and_dockerignore_keeps_it() -> None:
    project = pyproject()
    copied: list[str] = []
    for stage in dockerfile_stages()[:-1]:
        for arguments in stage.all("COPY"):
            words = [word for word in json_or_shell(arguments) if not word.startswith("--")]
            copied.extend(word.rstrip("/") for word in words[:-1])
    for path in copied:
        assert (ROOT / path).exists(), f"COPY {path}: no such file in the repository"
    needed = ["pyproject.toml", project["project"]["readme"]]
    needed += [
        pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for path in needed:
        assert path in copied, f"`pip install .` needs {path}, which the Dockerfile does not copy"
    patterns = dockerignore_patterns()
    for path in needed:
        assert not is_ignored(path, patterns), f".dockerignore excludes {path}"
    for data_file in ("clickup_sync/db/migrations/0001_service_state.sql", "clickup_sync/cli.py"):
        assert not is_ignored(data_file, patterns), f".dockerignore excludes {data_file}"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = dockerignore_patterns()
    for path in (".git", ".venv", ".cache", "var", ".env", "test-artifacts", "tests", ".pytest_cache",
                 "clickup_sync/__pycache__", "clickup_sync.egg-info"):  # fmt: skip
        assert is_ignored(path, patterns), f".dockerignore lets {path} into the build context"


def test_dockerfile_runs_clickup_sync_serve_as_a_non_root_user() -> None:
    runtime = dockerfile_stages()[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage runs as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    scripts = pyproject()["project"]["scripts"]
    assert json_or_shell(runtime.all("ENTRYPOINT")[-1]) == ["clickup-sync"]
    assert "clickup-sync" in scripts
    assert json_or_shell(runtime.all("CMD")[-1]) == ["serve"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "clickup-sync serve" in readme
    exposed = " ".join(runtime.all("EXPOSE")).split()
    assert str(Settings.model_fields["port"].default) in exposed


# -------------------------------------------------------------------- the healthchecks themselves
class _HealthHandler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_HealthHandler]]]:
    handler = type("Handler", (_HealthHandler,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def dockerfile_healthcheck_code() -> str:
    arguments = dockerfile_stages()[-1].all("HEALTHCHECK")
    assert arguments, "the runtime stage has no HEALTHCHECK"
    words = shlex.split(arguments[-1])
    command = words[words.index("CMD") + 1 :]
    assert command[:2] == ["python", "-c"], "the check runs python (the slim image has no curl)"
    return command[2]


def compose_healthcheck_code() -> str:
    test = as_list(load_compose()["services"][APP_SERVICE]["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "-c"], test
    return str(test[3])


@pytest.mark.parametrize("code", [dockerfile_healthcheck_code, compose_healthcheck_code],
                         ids=["Dockerfile", "compose"])  # fmt: skip
def test_healthcheck_passes_on_healthz_and_fails_otherwise(
    code: Any, health_server: tuple[int, type[_HealthHandler]], tmp_path: Path
) -> None:
    port, handler = health_server
    script = code()
    assert "urllib" in script and "/healthz" in script

    def check(port: int) -> int:
        environment = {"PORT": str(port), "PATH": "/usr/bin:/bin"}
        return subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, timeout=30, cwd=tmp_path
        ).returncode

    assert check(port) == 0
    handler.status = 503
    assert check(port) != 0, "an unhealthy answer passed the healthcheck"
    assert check(closed_port()) != 0, "nothing listening passed the healthcheck"


def closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ the operations docs are true
OPERATIONS_DOCS = ("deployment.md", "runbook.md", "scaling.md")
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_CODE_SPAN = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")
_CLI_CALL = re.compile(r"(?:^|(?<=[\s/(]))clickup-sync((?: [a-z][a-z-]*)+)(?P<rest>[^\n]*)")


def doc_text(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def code_snippets(text: str) -> list[str]:
    """Fenced blocks' lines (without shell comments) and inline code spans, whitespace collapsed."""
    snippets = [
        line.split(" #")[0] for block in _FENCE.findall(text) for line in block.splitlines() if line.strip()
    ]
    prose = _FENCE.sub("", text)
    snippets += [" ".join(span.split()) for span in _CODE_SPAN.findall(prose)]
    return snippets


def cited_cli_calls(text: str) -> list[tuple[list[str], list[str]]]:
    """(command words, options) of every `clickup-sync …` call in the code of a document."""
    calls = []
    for snippet in code_snippets(text):
        for match in _CLI_CALL.finditer(snippet):
            words = match[1].split()
            options = re.findall(r"(?<!\S)(--[a-z][a-z-]*)", match["rest"])
            calls.append((words, options))
    return calls


@pytest.mark.parametrize("name", OPERATIONS_DOCS)
def test_every_cited_command_and_option_exists(name: str) -> None:
    group = typer.main.get_group(cli_app)
    calls = cited_cli_calls(doc_text(name))
    assert calls, f"{name} cites no clickup-sync command"
    problems = []
    for words, options in calls:
        command = group.commands.get(words[0])
        subcommands = getattr(command, "commands", None)
        if command is not None and subcommands is not None:
            command = subcommands.get(words[1]) if len(words) > 1 else None
        if command is None:
            problems.append(f"clickup-sync {' '.join(words)}: no such command")
            continue
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        problems += [f"clickup-sync {' '.join(words)} {option}" for option in options if option not in known]
    assert problems == []


@pytest.mark.parametrize("name", OPERATIONS_DOCS)
def test_every_cited_setting_exists(name: str) -> None:
    names = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`", doc_text(name)))
    unknown = sorted(names - set(setting_variable_names()))
    assert unknown == []


@pytest.mark.parametrize("name", OPERATIONS_DOCS)
def test_every_cited_table_exists(name: str) -> None:
    sources = [
        path.read_text(encoding="utf-8") for path in (ROOT / "clickup_sync/db/migrations").glob("*.sql")
    ]
    queue_schema = Path(procrastinate.__file__ or "").parent / "sql" / "schema.sql"
    sources.append(queue_schema.read_text(encoding="utf-8"))
    created = {
        m for text in sources for m in re.findall(r"CREATE (?:TABLE|VIEW) (?:\{schema\}\.)?(\w+)", text)
    }
    text = doc_text(name)
    cited = set(re.findall(r"\bclickup_sync\.([a-z_]+)\b", text))
    cited |= set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", text)) & {name for name in created}
    assert cited - created == set()
    if name == "runbook.md":
        assert {"webhooks", "webhook_deliveries", "parked_changes"} <= cited, "the checks above found nothing"


@pytest.mark.parametrize("name", OPERATIONS_DOCS)
def test_every_cited_metric_is_exported(name: str) -> None:
    source = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "clickup_sync").rglob("*.py"))
    templates = set(re.findall(r"\"(clickup_sync_[a-z_{}]+)\"", source))
    patterns = [re.compile(re.sub(r"\\\{[a-z_]+\\\}", r"[a-z]+", re.escape(t)) + "$") for t in templates]
    missing = []
    for metric in set(re.findall(r"\b(clickup_sync_[a-z_]+)", doc_text(name))):
        base = re.sub(r"_(total|bucket|count|sum|created)$", "", metric)
        if not any(pattern.match(base) or pattern.match(metric) for pattern in patterns):
            missing.append(metric)
    assert sorted(missing) == []


def _anchors(markdown: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"(?m)^#{1,6} (.+)$", _FENCE.sub("", markdown)):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("name", OPERATIONS_DOCS)
def test_links_between_docs_resolve(name: str) -> None:
    broken = []
    for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?(?:#([\w-]+))?\)", doc_text(name)):
        path = ROOT / "docs" / (target or name)
        if not path.exists():
            broken.append(target)
        elif anchor and anchor not in _anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{target or name}#{anchor}")
    assert broken == []
