"""What one deploy costs in AWS terms: invocations, DynamoDB request units, log bytes.

Sends the notifications a deploy publishes with the README's set-up (the notification rule's
event types: execution started/succeeded/failed, stage and action failures; CodeDeploy's
DeploymentStart and its outcome) through the notification door, one Lambda invocation per SNS
record, into living messages, against a local fake Slack and a store that counts what DynamoDB
would bill: a strongly consistent read of an item is 1 RRU per 4 KB, a write 1 WRU per 1 KB
(twice when the item stands in the ledger's or the sweep's list: the index is written too).
Log bytes are the JSON lines the function writes (Powertools' formatter, as on Lambda).

    uv run python bench/bench_cost.py
"""

from __future__ import annotations

import io
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.config import Config  # noqa: E402
from bot.logs import configure_json_logs  # noqa: E402
from bot.slack import make_poster  # noqa: E402
from bot.store import Record, SqliteStore  # noqa: E402
from handlers.notifications import handle_lambda_event  # noqa: E402
from tests.conftest import load_sample  # noqa: E402
from tests.fake_slack import TOKEN, FakeSlack  # noqa: E402

# The notification rule of README step 5 subscribes to these; CodeDeploy triggers to all.
RULE_STATES = {("Pipeline", s) for s in ("STARTED", "SUCCEEDED", "FAILED", "CANCELED")}
RULE_STATES |= {("Stage", "FAILED"), ("Action", "FAILED")}


class CountingStore:
    """An SQLite store that tallies what the same calls would cost on DynamoDB."""

    def __init__(self) -> None:
        self._store = SqliteStore(":memory:")
        self.reads = self.writes = self.rru = self.wru = 0
        self.largest = 0

    @staticmethod
    def _size(record: Record) -> int:
        # DynamoDB's item size: attribute names plus values (pk, version, body, expires_at).
        return len("pk" + record.key) + len("version") + 4 + len("body" + record.body) + 14

    def get(self, key: str) -> Record | None:
        record = self._store.get(key)
        size = self._size(record) if record else 0
        self.reads += 1
        self.rru += max(1, math.ceil(size / 4096))
        return record

    def put(self, record: Record) -> bool:
        size = self._size(record)
        self.writes += 1
        self.wru += max(1, math.ceil(size / 1024))
        # A record in a list (or leaving one) is written to the `lists` index too, billed again.
        old = self._store.get(record.key)
        if record.listed or (old is not None and old.listed):
            self.wru += max(1, math.ceil((size + 40) / 1024))
        self.largest = max(self.largest, size)
        return self._store.put(record)


def _pipeline(sample: str) -> list[dict[str, Any]]:
    flow = load_sample(sample)
    return [n for n in flow if (n["detailType"].split()[1], n["detail"]["state"]) in RULE_STATES]


def _deploy(config: Config, notifications: list[Any], log: io.StringIO) -> dict[str, int]:
    store = CountingStore()
    slack = FakeSlack.start()
    try:
        poster = make_poster(Config(slack_bot_token=TOKEN, slack_api_url=slack.api_url))
        before = len(log.getvalue().encode())
        for notification in notifications:
            handle_lambda_event(notification, config, poster, None, store)  # type: ignore[arg-type]
        return {
            "invocations": len(notifications),
            "slack calls": len(slack.calls),
            "store reads": store.reads,
            "store writes": store.writes,
            "RRU": store.rru,
            "WRU": store.wru,
            "largest item (bytes)": store.largest,
            "log bytes": len(log.getvalue().encode()) - before,
        }
    finally:
        slack.close()


def main() -> None:
    log = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(log))
    configure_json_logs()
    config = Config(default_channel="C0DEPLOYS")
    runs = {
        "successful deploy": [
            *_pipeline("codepipeline-notification-flow-success.json"),
            load_sample("codedeploy-trigger-created.json"),
            load_sample("codedeploy-trigger-success.json"),
        ],
        "failed deploy": [
            *_pipeline("codepipeline-notification-flow-failed-codedeploy.json"),
            load_sample("codedeploy-trigger-failure-created.json"),
            load_sample("codedeploy-trigger-failure.json"),
        ],
    }
    figures = {name: _deploy(config, notes, log) for name, notes in runs.items()}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
