"""scripts/uv.py, the README's first command: it finds uv or installs it the first way that works,
and says which. pip installs come from a local wheel of a stand-in `uv` (no network)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "uv.py"
DEBIAN_PYTHON = Path("/usr/bin/python3")


def _debian_marker() -> Path | None:
    """The PEP 668 marker of the system Python, when there is one (Debian 12, Ubuntu 24.04)."""
    if not DEBIAN_PYTHON.is_file():
        return None
    stdlib = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    marker = Path(stdlib) / "EXTERNALLY-MANAGED"
    return marker if marker.is_file() else None


def _stand_in_wheel(where: Path) -> Path:
    """A wheel named uv whose `uv` prints its arguments: what pip installs, offline."""
    wheel = where / "uv-0.0.1-py3-none-any.whl"
    files = {
        "uv/__init__.py": (
            "import os, sys\n\ndef find_uv_bin():\n"
            "    return os.path.join(os.path.dirname(sys.executable), 'uv')\n\n"
            "def main():\n    print('stand-in uv', *sys.argv[1:])\n"
        ),
        "uv-0.0.1.dist-info/entry_points.txt": "[console_scripts]\nuv = uv:main\n",
        "uv-0.0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: uv\nVersion: 0.0.1\n",
        "uv-0.0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        record = "".join(f"{name},,\n" for name in files) + "uv-0.0.1.dist-info/RECORD,,\n"
        archive.writestr("uv-0.0.1.dist-info/RECORD", record)
    return wheel


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No uv on PATH; pip reads only the stand-in wheel; nothing from the developer's setup."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    _stand_in_wheel(wheels)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "DEPLOYBOT_UV_DIR": str(tmp_path / "uv-bootstrap"),
        **extra,
    }


def _run(python: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.skipif(
    _debian_marker() is None,
    reason=f"no system Python with a PEP 668 marker at {DEBIAN_PYTHON} (Debian 12, Ubuntu 24.04)",
)
def test_a_system_python_that_refuses_pip_gets_uv_in_a_venv(tmp_path: Path) -> None:
    # GIVEN Debian's own python3, which refuses `pip install` (PEP 668), and no uv anywhere
    env = _env(tmp_path)
    # WHEN the README's command runs with it
    first = _run(str(DEBIAN_PYTHON), env, "run", "pytest")
    # THEN pip's refusal is said, uv goes into a virtual environment of its own, and runs
    assert first.returncode == 0, first.stderr
    assert first.stdout == "stand-in uv run pytest\n"
    assert "externally-managed-environment" in first.stderr
    assert f"installed uv in a virtual environment of its own: {tmp_path}" in first.stderr
    assert "--break-system-packages" not in first.stderr
    # AND the next run finds it there, quietly
    again = _run(str(DEBIAN_PYTHON), env, "--version")
    assert (again.returncode, again.stdout, again.stderr) == (0, "stand-in uv --version\n", "")


# Debian's python3-pip does not pull in python3-venv: the venv module is there but ensurepip is
# not, so `python3 -m venv DIR` fails. Only that is simulated; pip, PEP 668 and venv are real.
_WITHOUT_ENSUREPIP = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("uv_bootstrap", sys.argv[1])
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)

def no_ensurepip():
    bootstrap.say("could not make a virtual environment: this Python cannot make virtual "
                  "environments (Debian/Ubuntu: python3-venv)")
    return None

bootstrap.with_venv = no_ensurepip
sys.exit(bootstrap.main(sys.argv[2:]))
"""


@pytest.mark.skipif(
    _debian_marker() is None,
    reason=f"no system Python with a PEP 668 marker at {DEBIAN_PYTHON} (Debian 12, Ubuntu 24.04)",
)
def test_a_system_python_with_pip_but_no_venv_uses_the_system_pip_in_a_bare_venv(
    tmp_path: Path,
) -> None:
    # GIVEN Debian's own python3 with python3-pip but without python3-venv, and no uv or pipx
    env = _env(tmp_path)
    # WHEN the README's command runs with it
    first = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", _WITHOUT_ENSUREPIP, str(SCRIPT), "run", "pytest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # THEN a virtual environment without pip but with the system's packages gets uv from the
    # system's pip, and uv runs
    assert first.returncode == 0, first.stderr
    assert first.stdout == "stand-in uv run pytest\n"
    assert "externally-managed-environment" in first.stderr
    assert (
        f"installed uv in a virtual environment of its own, with the system's pip: {tmp_path}"
        in first.stderr
    )
    assert "--break-system-packages" not in first.stderr
    # AND the next run of the script itself finds it there, quietly
    again = _run(str(DEBIAN_PYTHON), env, "--version")
    assert (again.returncode, again.stdout, again.stderr) == (0, "stand-in uv --version\n", "")


def test_a_python_that_allows_pip_installs_uv_with_pip(tmp_path: Path) -> None:
    # GIVEN a Python whose pip may install (a virtual environment: PEP 668 does not apply)
    home = tmp_path / "python"
    venv.EnvBuilder(with_pip=True).create(home)
    python = str(home / ("Scripts" if os.name == "nt" else "bin") / "python")
    # WHEN the README's command runs with it
    result = _run(python, _env(tmp_path), "run", "deploybot", "--help")
    # THEN pip installed uv, and uv ran with the arguments
    assert result.returncode == 0, result.stderr
    assert result.stdout == "stand-in uv run deploybot --help\n"
    assert result.stderr == f"scripts/uv.py: installed uv with pip ({python} -m pip install uv)\n"


def test_uv_on_path_is_used_as_it_is(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    fake = tools / "uv"
    fake.write_text('#!/bin/sh\necho on-path uv "$@"\n')
    fake.chmod(0o755)
    env = _env(tmp_path, PATH=f"{tools}:/usr/bin:/bin")
    result = _run(sys.executable, env, "sync", "--locked")
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "on-path uv sync --locked\n",
        "",
    )


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("uv_bootstrap", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_with_no_way_to_install_it_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stock Debian python3: no uv, no pip, no venv module, no pipx
    bootstrap = _load()
    monkeypatch.setattr(bootstrap, "found", lambda: None)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    answers = {
        "pip": "/usr/bin/python3: No module named pip",
        "venv": "The virtual environment was not created successfully because ensurepip is not "
        "available.  On Debian/Ubuntu systems, you need to install the python3-venv package",
    }

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        if "--without-pip" in command:  # the venv module makes a bare environment
            return subprocess.CompletedProcess(command, 0, "", "")
        return subprocess.CompletedProcess(command, 1, "", answers[command[2]])

    monkeypatch.setattr(bootstrap, "_run", run)
    # WHEN it runs, THEN it exits 1 having said what it tried and what to do
    assert bootstrap.main(["run", "pytest"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "scripts/uv.py: pip did not install uv: this Python has no pip",
        "scripts/uv.py: could not make a virtual environment: this Python cannot make virtual "
        "environments (Debian/Ubuntu: python3-venv)",
        f"scripts/uv.py: the system's pip did not install uv in {bootstrap.PLACE} either: "
        "this Python has no pip",
        "scripts/uv.py: pipx is not installed either",
        "scripts/uv.py: found no way to install uv here: install uv yourself "
        "(https://docs.astral.sh/uv/getting-started/installation/), or on Debian/Ubuntu "
        "`sudo apt install python3-venv` and run this again",
    ]
    assert sysconfig.get_path("stdlib")  # the marker's place, as pip looks for it


def test_with_pip_but_no_venv_it_never_breaks_system_packages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a Debian python3 with python3-pip but not python3-venv, and no uv or pipx
    bootstrap = _load()
    monkeypatch.setattr(bootstrap, "found", lambda: None)
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    python = str(bootstrap.PLACE / "bin" / "python")
    commands: list[list[str]] = []

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        if command[1:3] == ["-m", "pip"] and command[0] == sys.executable:
            return subprocess.CompletedProcess(
                command, 1, "", "error: externally-managed-environment"
            )
        if command[1:3] == ["-m", "venv"] and "--without-pip" not in command:
            return subprocess.CompletedProcess(command, 1, "", "ensurepip is not available")
        located = f"{bootstrap.PLACE}/bin/uv\n" if command[1] == "-c" else ""
        return subprocess.CompletedProcess(command, 0, located, "")

    monkeypatch.setattr(bootstrap, "_run", run)
    executed: list[list[str]] = []
    monkeypatch.setattr(bootstrap.os, "execv", lambda path, argv: executed.append(argv))
    # WHEN it runs
    assert bootstrap.main(["run", "pytest"]) == 0
    # THEN after pip and venv failed, a bare venv that sees the system's packages got uv from the
    # system's pip, and uv ran with the arguments
    assert commands[2:] == [
        [
            sys.executable,
            "-m",
            "venv",
            "--without-pip",
            "--system-site-packages",
            str(bootstrap.PLACE),
        ],
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv"],
        [python, "-c", "import uv; print(uv.find_uv_bin())"],
    ]
    assert executed == [[f"{bootstrap.PLACE}/bin/uv", "run", "pytest"]]
    assert not [c for c in commands if "--break-system-packages" in c]
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"scripts/uv.py: installed uv in a virtual environment of its own, with the system's pip: "
        f"{bootstrap.PLACE}"
    )
