#!/usr/bin/env python3
"""Run uv, installing it first when this machine has none: `python3 scripts/uv.py run pytest`
does what `uv run pytest` does.

uv is looked for on PATH, then where an earlier run of this script put it. If there is none, it
is installed the first way that works here, and the script says which:

1. pip: `python3 -m pip install uv` (python.org and Homebrew builds, CI images, an active
   virtual environment);
2. a virtual environment of its own, .uv-bootstrap/ next to this repository's pyproject.toml:
   the way on Debian 12 and Ubuntu 24.04, whose system Python refuses pip installs with
   `externally-managed-environment` (PEP 668); Debian's Python needs `python3-venv` for it;
3. when that fails because this Python cannot make a virtual environment with pip in it
   (Debian without python3-venv: no ensurepip) but has a pip of its own (python3-pip): the same
   environment made `--without-pip --system-site-packages`, and the system's pip run from it
   installs uv there (PEP 668 does not apply inside a virtual environment);
4. pipx: `pipx install uv`.

It never passes --break-system-packages. Standard library only, Python 3.8 or later.
Set DEPLOYBOT_UV_DIR to keep the virtual environment somewhere else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACE = Path(os.environ.get("DEPLOYBOT_UV_DIR") or ROOT / ".uv-bootstrap")
BIN = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""
QUIET = ["--quiet", "--disable-pip-version-check"]
GUIDE = (
    "install uv yourself (https://docs.astral.sh/uv/getting-started/installation/), or on "
    "Debian/Ubuntu `sudo apt install python3-venv` and run this again"
)


def say(line: str) -> None:
    print(f"scripts/uv.py: {line}", file=sys.stderr)


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _why(result: subprocess.CompletedProcess[str]) -> str:
    """The reason a command failed, in one line."""
    output = (result.stderr or result.stdout).strip()
    if "externally-managed-environment" in output:
        return "this Python is managed by the system (PEP 668: externally-managed-environment)"
    if "No module named pip" in output:
        return "this Python has no pip"
    if "ensurepip is not" in output or "No module named venv" in output:
        return "this Python cannot make virtual environments (Debian/Ubuntu: python3-venv)"
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {result.returncode}"


def found() -> str | None:
    """uv on PATH, or where this script installed it before."""
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    mine = PLACE / BIN / f"uv{EXE}"
    return str(mine) if mine.is_file() else None


def _located(python: str) -> str | None:
    """Where the uv that `python -m pip` installed keeps its binary."""
    result = _run([python, "-c", "import uv; print(uv.find_uv_bin())"])
    binary = result.stdout.strip()
    return binary if result.returncode == 0 and binary else None


def _pip_install(python: str, failed: str, done: str) -> str | None:
    """`python -m pip install uv`, saying how it went; where uv's binary is."""
    result = _run([python, "-m", "pip", "install", *QUIET, "uv"])
    if result.returncode != 0:
        say(f"{failed}: {_why(result)}")
        return None
    say(done)
    return _located(python)


def with_pip() -> str | None:
    return _pip_install(
        sys.executable,
        "pip did not install uv",
        f"installed uv with pip ({sys.executable} -m pip install uv)",
    )


def with_venv() -> str | None:
    made = _run([sys.executable, "-m", "venv", str(PLACE)])
    if made.returncode != 0:
        say(f"could not make a virtual environment: {_why(made)}")
        return None
    return _pip_install(
        str(PLACE / BIN / f"python{EXE}"),
        f"could not install uv in {PLACE}",
        f"installed uv in a virtual environment of its own: {PLACE}",
    )


def with_system_pip() -> str | None:
    made = _run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(PLACE)]
    )
    if made.returncode != 0:
        say(f"could not make a virtual environment without pip either: {_why(made)}")
        return None
    return _pip_install(
        str(PLACE / BIN / f"python{EXE}"),
        f"the system's pip did not install uv in {PLACE} either",
        f"installed uv in a virtual environment of its own, with the system's pip: {PLACE}",
    )


def with_pipx() -> str | None:
    pipx = shutil.which("pipx")
    if pipx is None:
        say("pipx is not installed either")
        return None
    result = _run([pipx, "install", "uv"])
    if result.returncode != 0:
        say(f"pipx did not install uv: {_why(result)}")
        return None
    say("installed uv with pipx (pipx install uv)")
    where = _run([pipx, "environment", "--value", "PIPX_BIN_DIR"]).stdout.strip()
    candidate = Path(where or Path.home() / ".local" / "bin") / f"uv{EXE}"
    return str(candidate) if candidate.is_file() else shutil.which("uv")


def main(argv: list[str]) -> int:
    uv = found() or with_pip() or with_venv() or with_system_pip() or with_pipx()
    if uv is None:
        say(f"found no way to install uv here: {GUIDE}")
        return 1
    if os.name == "nt":
        return subprocess.call([uv, *argv])
    os.execv(uv, [uv, *argv])
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
