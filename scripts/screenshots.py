"""Take the README's screenshots (docs/img/*.png) with Debian's headless Chromium.

    sudo apt-get install chromium fonts-noto-color-emoji fonts-lato pngquant
    uv run python scripts/screenshots.py

Each scene of tests/scenes.py is written as a page, measured (its script records its height),
then photographed at that height. The reader's time zone is Europe/Berlin, to show date tokens
converted from the UTC fallback. pngquant, when installed, makes the pictures a third the size.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the scenes' stubbed AWS clients

from tests import browser  # noqa: E402
from tests.scenes import SCENES  # noqa: E402

OUT = ROOT / "docs" / "img"
WIDTH = 720
TIME_ZONE = "Europe/Berlin"


def main() -> int:
    if not browser.available():
        print(f"no Chromium at {browser.CHROMIUM}: sudo apt-get install chromium", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name, make in SCENES.items():
            scene = make()
            page = Path(work) / f"{name}.html"
            page.write_text(scene.html(), encoding="utf-8")
            dom = browser.dump_dom(page, width=WIDTH, time_zone=TIME_ZONE)
            found = re.search(r'data-height="(\d+)"', dom)
            height = max(int(found.group(1)) if found else 600, scene.min_height)
            picture = OUT / f"{name}.png"
            browser.screenshot(
                page,
                picture,
                width=WIDTH,
                height=height,
                fragment=scene.fragment,
                time_zone=TIME_ZONE,
            )
            _shrink(picture)
            print(f"{picture.relative_to(ROOT)}: {WIDTH}x{height}, {picture.stat().st_size} bytes")
    return 0


def _shrink(picture: Path) -> None:
    """Fewer colours, same look (pngquant), when pngquant is installed."""
    pngquant = shutil.which("pngquant")
    if pngquant:
        subprocess.run(
            [pngquant, "--force", "--skip-if-larger", "--output", str(picture), str(picture)],
            check=False,
        )


if __name__ == "__main__":
    sys.exit(main())
