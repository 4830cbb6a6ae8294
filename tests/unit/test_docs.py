"""The docs and the code agree: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from clickup_sync.cli import app
from clickup_sync.settings import setting_variable_names

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in setting_variable_names() if f"`{name}`" not in text]
    assert missing == []


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    group = typer.main.get_group(app)
    commands: list[str] = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            commands.extend(f"{name} {sub}" for sub in subcommands)
        else:
            commands.append(name)
    assert commands, "the CLI has no commands"
    missing = [name for name in sorted(commands) if f"`clickup-sync {name}" not in text]
    assert missing == []
