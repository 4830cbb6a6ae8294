#!/usr/bin/env python3
"""The two commands a newcomer needs, on a machine that has only Python 3.11+.

    python3 dev.py demo     # install what is needed, then run `clickup-sync demo`
    python3 dev.py test     # install what is needed, then run the whole test suite

Everything is installed into `.venv/` next to this file; the install is skipped while
`pyproject.toml` is unchanged. Extra arguments are passed through (`python3 dev.py test -k emulator`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-from"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_installed() -> Path:
    if sys.version_info < (3, 11):
        sys.exit(f"clickup-sync needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not _venv_python().exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("Installing clickup-sync and its dependencies into .venv ...", flush=True)
        pip = [str(_venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
        STAMP.write_text(wanted)
    return _venv_python()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test"}:
        print(__doc__)
        return 2
    python = ensure_installed()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        args = [str(python), "-m", "clickup_sync", "demo", *rest]
    else:
        args = [str(python), "-m", "pytest", *rest]
    os.chdir(ROOT)
    return run_forwarding_ctrl_c(args)


def run_forwarding_ctrl_c(args: list[str]) -> int:
    """Run the command; Ctrl-C stops it cleanly (it prints its own goodbye), never with a traceback
    from this wrapper. A terminal sends SIGINT to both; a lone SIGINT to this process is passed on."""
    child = subprocess.Popen(args)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
