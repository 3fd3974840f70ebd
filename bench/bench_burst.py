"""A burst of notifications to one channel through a fake Slack that enforces the rate limit.

Run: uv run python bench/bench_burst.py [--count 300] [--rate 1] [--workers 8]
Each notification starts its own deployment (so each is a new post); `--workers` concurrent
invocations deliver them, as Lambda would, retrying a failed delivery as Lambda's retry would.
The fake Slack (loopback only) answers 429 + Retry-After to posts faster than `--rate` per
second. Prints the total time against the floor (count / rate); asserts nothing but counts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402

from bot.domain.config import Config  # noqa: E402
from bot.domain.events import parse_payload  # noqa: E402
from bot.slack import WebApiPoster, retry_handlers  # noqa: E402
from bot.store import SqliteStore  # noqa: E402
from handlers.notifications import deliver_events  # noqa: E402
from tests.conftest import load_sample  # noqa: E402
from tests.fake_slack import TOKEN, FakeSlack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1.0, help="posts per second allowed")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    template = parse_payload(load_sample("codedeploy-trigger-created.json"))[0]
    events = [
        replace(template, deployment_id=f"d-BURST{n:05d}", event_id=f"burst-{n}")
        for n in range(args.count)
    ]
    fake = FakeSlack.start()
    fake.rate_limit(args.rate)
    config = Config(slack_bot_token=TOKEN, slack_api_url=fake.api_url)
    poster = WebApiPoster(
        WebClient(token=TOKEN, base_url=fake.api_url, retry_handlers=retry_handlers())
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(str(Path(tmp) / "state.db"))
        queue = list(reversed(events))
        lock = threading.Lock()
        lambda_retries = 0

        def worker() -> None:
            nonlocal lambda_retries
            while True:
                with lock:
                    if not queue:
                        return
                    event = queue.pop()
                while deliver_events([event], config, poster, store)[1]:
                    with lock:
                        lambda_retries += 1

        started = time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    counts = fake.posted_by_key()
    rejected = sum(1 for c in fake.calls if c.method == "chat.postMessage" and not c.args["_ok"])
    floor = (args.count - 1) / args.rate
    fake.close()
    print(
        f"{args.count} notifications, {args.workers} workers, limit {args.rate:g} post/s: "
        f"{len(counts)} messages, posted twice: {sum(1 for c in counts.values() if c > 1)}, "
        f"missing: {args.count - len(counts)}"
    )
    print(
        f"total {elapsed:.1f} s vs floor {floor:.1f} s ({elapsed / floor:.2f}x); "
        f"429s answered: {rejected}; deliveries retried as Lambda would: {lambda_retries}"
    )


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)  # retried failures are expected here; counts tell
    main()
