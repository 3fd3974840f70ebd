"""Benchmark the notification path: cold start, parse + render time, peak memory.

Run: uv run python bench/bench_notifications.py [--runs N]
Prints figures; asserts nothing. No network: nothing here posts or calls AWS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a new Lambda container does before the first notification: import and load config.
COLD_DEPLOYBOT = """
import time, resource
t = time.perf_counter()
import bot.lambda_function as lf
lf._config()
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
# What a typical hand-written notifier Lambda does: boto3 + urllib3 and one client.
COLD_BASELINE = """
import time, resource
t = time.perf_counter()
import boto3, urllib3
boto3.client("codepipeline", region_name="us-east-1")
http = urllib3.PoolManager()
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
# Everything over all samples in one process, for peak RSS.
ALL_SAMPLES = """
import glob, resource
from bot.domain.config import Config
from bot.domain.events import parse_text
from bot.plan import plan
for path in sorted(glob.glob("samples/*.json")):
    plan(parse_text(open(path, encoding="utf-8").read()), Config())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _run(code: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [float(x) for x in out.split()]


def cold_start(runs: int) -> None:
    """Median in-process import time and whole-process wall time, deploybot vs baseline."""
    for name, code in (("deploybot", COLD_DEPLOYBOT), ("baseline boto3+urllib3", COLD_BASELINE)):
        imports, walls, rss = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            elapsed, maxrss_kb = _run(code)
            walls.append(time.perf_counter() - started)
            imports.append(elapsed)
            rss.append(maxrss_kb)
        print(
            f"cold start {name:<24} import+init median {statistics.median(imports) * 1000:6.1f} ms"
            f"   process wall median {statistics.median(walls) * 1000:6.1f} ms"
            f"   peak RSS {statistics.median(rss) / 1024:5.1f} MB   ({runs} runs)"
        )


def parse_and_render(rounds: int) -> None:
    """Median time to parse and render one event, over every sample."""
    from bot.domain.config import Config
    from bot.domain.events import parse_text
    from bot.plan import build_post, plan

    config = Config(failure_mentions=("U0ONCALL",), sites={"production": "https://x.example"})
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "samples").glob("*.json"))]
    per_event = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            events = parse_text(text)
            planned = plan(events, config)
            for item in planned:  # also render the skipped ones: the worst case
                if item.message is None:
                    build_post(item.event, config)
            per_event.append((time.perf_counter() - started) / len(events))
    size = max(len(json.dumps(p.message)) for p in plan(parse_text(texts[0]), config) if p.message)
    print(
        f"parse+render per event: median {statistics.median(per_event) * 1e6:7.1f} µs, "
        f"p95 {statistics.quantiles(per_event, n=20)[-1] * 1e6:7.1f} µs "
        f"({len(texts)} samples x {rounds} rounds; one message is ~{size} bytes of JSON)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}")
    cold_start(args.runs)
    parse_and_render(rounds=20)
    [maxrss_kb] = _run(ALL_SAMPLES)
    print(f"peak RSS after planning every sample in one process: {maxrss_kb / 1024:.1f} MB")


if __name__ == "__main__":
    main()
