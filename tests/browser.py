"""Headless Chromium from Debian's `chromium` package: load a page, dump its DOM, take a picture.

Each run gets a fresh profile directory, no sandbox (CI runs as root), and none of the browser's
own network traffic (updates, sync, QUIC), so nothing leaves the machine. The time zone and
language are fixed so that date tokens format the same everywhere.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
    "--hide-scrollbars",
)
TIME_ZONE = "UTC"
TIMEOUT_SECONDS = 90


def available() -> bool:
    """Whether Debian's Chromium is installed where `apt-get install chromium` puts it."""
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def _run(*args: str, time_zone: str = TIME_ZONE) -> str:
    with tempfile.TemporaryDirectory(prefix="deploybot-chromium-") as profile:
        result = subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=TIMEOUT_SECONDS,
            env={**os.environ, "TZ": time_zone, "LANG": "en_US.UTF-8"},
        )
    return result.stdout


def dump_dom(page: Path, *, width: int = 800, time_zone: str = TIME_ZONE) -> str:
    """The page's DOM after its scripts ran."""
    return _run(f"--window-size={width},800", "--dump-dom", page.as_uri(), time_zone=time_zone)


def screenshot(
    page: Path,
    picture: Path,
    *,
    width: int,
    height: int,
    fragment: str = "",
    time_zone: str = TIME_ZONE,
) -> None:
    """A PNG of the page's first `width` x `height` pixels."""
    _run(
        f"--window-size={width},{height}",
        f"--screenshot={picture}",
        page.as_uri() + fragment,
        time_zone=time_zone,
    )
