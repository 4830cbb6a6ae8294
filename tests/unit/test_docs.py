"""The docs and the code agree: every setting and every command is documented, and every relative
link in README.md and docs/*.md leads to an existing file (and heading, when it names one)."""

from __future__ import annotations

import re
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


ROOT = DOCS.parent
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
EXTERNAL = ("http://", "https://", "mailto:")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(CODE_SPAN.sub("", line))
    return lines


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors for a Markdown file's headings: lowercased, punctuation dropped, spaces as
    hyphens, `-1`, `-2` … on repeats."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(path: Path) -> list[str]:
    """Relative links of a Markdown file whose file does not exist, or whose `#anchor` (optional)
    names no heading of that file."""
    broken: list[str] = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif (
                anchor
                and linked.suffix == ".md"
                and anchor not in heading_anchors(linked.read_text(encoding="utf-8"))
            ):
                broken.append(f"{path.name}: {target} (no such heading)")
    return broken


def test_every_relative_link_points_to_an_existing_file_and_heading() -> None:
    documents = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    assert len(documents) > 1
    broken = [problem for document in documents for problem in broken_links(document)]
    assert broken == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading, with (punctuation)\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#a-code-heading-with-punctuation) [ok](#page) [web](https://x.y/z)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere)\n"
        "```\n[in code](ignored.md)\n```\n"
        "`[inline](ignored.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#nowhere (no such heading)",
    ]
