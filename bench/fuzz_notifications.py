"""Fuzz deploybot's doors with hostile versions of the real samples and count what breaks.

1. The pure path: mutated samples parsed and rendered as the notification door does
   (tests/hostile.py `check`: only ParseError may be raised; every message must fit Block
   Kit, slack_sdk's models included; links honest; store state encodable).
2. The Lambda handler: mutated samples (as Lambda SNS events, several records each, and raw
   EventBridge events) and non-object events through `bot.lambda_function.handler`, posting
   to a local fake Slack that refuses what Slack would refuse.
3. The Slack door: signed and unsigned malformed bodies through the same handler.

Prints counts; "unhandled" is any exception other than the ones the doors raise on purpose
(UnreadableRecords, which sends an unreadable record to the dead-letter queue). Seeds are
printed with each failure so it can be replayed. Uses only loopback.

    uv run python bench/fuzz_notifications.py [--pure 100000] [--handler 3000]
        [--door 1000] [--seed 17]
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import hmac
import json
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import hostile  # noqa: E402
from tests.fake_lambda import FakeLambda  # noqa: E402
from tests.fake_slack import TOKEN, FakeSlack  # noqa: E402
from tests.slack_requests import SECRET, LambdaContext, function_url_event  # noqa: E402


def pure(count: int, seed: int) -> None:
    """Mutated samples through parse + render + checks."""
    rng = random.Random(seed)
    failures: collections.Counter[str] = collections.Counter()
    examples: list[str] = []
    messages = 0
    started = time.perf_counter()
    for n in range(count):
        case_seed = rng.getrandbits(64)
        case = random.Random(case_seed)
        sample = hostile.SAMPLES[case.randrange(len(hostile.SAMPLES))]
        payload = hostile.mutate(case, sample, case.randint(1, 4))
        try:
            messages += hostile.check(payload)
        except Exception as exc:
            kind = f"{type(exc).__name__}: {str(exc)[:80]}"
            failures[kind] += 1
            if len(examples) < 5:
                examples.append(f"case {n} (seed {case_seed}): {kind}")
    elapsed = time.perf_counter() - started
    print(f"pure path: {count} mutated payloads, {messages} messages checked, {elapsed:.0f} s")
    print(f"  unhandled or refused by the checks: {sum(failures.values())}")
    for line in examples:
        print(f"    {line}")


def _as_lambda_event(case: random.Random, payloads: list[Any]) -> Any:
    """Several mutated payloads as one Lambda SNS event, or one as a raw event, or garbage."""
    roll = case.random()
    if roll < 0.05:
        return case.choice(["garbage", 42, None, [], [payloads[0]], {"Records": "x"}])
    if roll < 0.25:
        return payloads[0]
    records = []
    for index, payload in enumerate(payloads):
        message = payload if isinstance(payload, str) else json.dumps(payload)
        records.append(
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"fuzz-{case.getrandbits(32)}-{index}",
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:deploys",
                    "Message": message,
                    "Timestamp": "2024-01-01T00:00:00.000Z",
                },
            }
        )
    if case.random() < 0.1:
        records.insert(case.randrange(len(records) + 1), case.choice(hostile.HOSTILE))
    return {"Records": records}


def handler(count: int, seed: int, slack: FakeSlack) -> None:
    """Mutated events through the Lambda entry point, posting to the fake Slack."""
    from bot import lambda_function
    from handlers.notifications import UnreadableRecords

    rng = random.Random(seed)
    outcomes: collections.Counter[str] = collections.Counter()
    examples: list[str] = []
    started = time.perf_counter()
    for n in range(count):
        case_seed = rng.getrandbits(64)
        case = random.Random(case_seed)
        payloads = [
            hostile.mutate(case, case.choice(hostile.SAMPLES), case.randint(1, 3))
            for _ in range(case.randint(1, 3))
        ]
        event = _as_lambda_event(case, payloads)
        try:
            lambda_function.handler(event, LambdaContext())
            outcomes["handled"] += 1
        except UnreadableRecords:
            outcomes["unreadable record: to the dead-letter queue (on purpose)"] += 1
        except Exception as exc:
            outcomes["unhandled"] += 1
            if len(examples) < 5:
                examples.append(f"case {n} (seed {case_seed}): {type(exc).__name__}: {exc}")
    refused = sum(1 for c in slack.calls if not c.args.get("_ok") and c.args.get("_problems"))
    elapsed = time.perf_counter() - started
    print(f"Lambda handler: {count} events, {elapsed:.0f} s")
    for outcome, number in sorted(outcomes.items()):
        print(f"  {outcome}: {number}")
    print(f"  posts to the fake Slack: {len(slack.posts)}, refused as invalid_blocks: {refused}")
    for line in examples:
        print(f"    {line}")


def _signed(raw: bytes, content_type: str, *, sign: bool) -> dict[str, Any]:
    event = function_url_event("", content_type=content_type)
    ts = event["headers"]["x-slack-request-timestamp"]
    key = SECRET if sign else "not-the-secret"
    mac = hmac.new(key.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
    event["headers"]["x-slack-signature"] = "v0=" + mac.hexdigest()
    event["body"] = base64.b64encode(raw).decode()
    return event


def door(count: int, seed: int) -> None:
    """Malformed Slack requests, signed and not, through the Lambda entry point."""
    from bot import lambda_function

    rng = random.Random(seed)
    statuses: collections.Counter[str] = collections.Counter()
    pieces = [b"payload=", b"%7B", b"%5B", b"x", b"\xff", b"&", b"=", b"team_id=T999", b"{", b'"']
    for _ in range(count):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        content_type = rng.choice(["application/x-www-form-urlencoded", "application/json"])
        sign = rng.random() < 0.7
        try:
            status = lambda_function.handler(_signed(raw, content_type, sign=sign), LambdaContext())
            statuses[f"{'signed' if sign else 'unsigned'} -> {status['statusCode']}"] += 1
        except Exception as exc:
            statuses[f"unhandled {type(exc).__name__}"] += 1
    print(f"Slack door: {count} malformed requests")
    for outcome, number in sorted(statuses.items()):
        print(f"  {outcome}: {number}")


def main() -> None:
    """Run the three fuzzers and print what they found."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pure", type=int, default=100_000, help="payloads for the pure path")
    parser.add_argument("--handler", type=int, default=3000, help="events for the handler")
    parser.add_argument("--door", type=int, default=1000, help="requests for the Slack door")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # millions of refusals and skips are expected
    pure(args.pure, args.seed)
    slack, stand_in = FakeSlack.start(), FakeLambda.start()
    os.environ.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        AWS_ACCESS_KEY_ID="fuzz",
        AWS_SECRET_ACCESS_KEY="fuzz",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ENDPOINT_URL_LAMBDA=stand_in.url,
        AWS_ENDPOINT_URL_CODEPIPELINE="http://127.0.0.1:9",  # enrichment fails fast: a note
        AWS_ENDPOINT_URL_CODEDEPLOY="http://127.0.0.1:9",
    )
    from bot import lambda_function

    for cached in (  # tests/conftest.py imported the entry point before this environment
        lambda_function._file_config,
        lambda_function._config,
        lambda_function._poster,
        lambda_function._enrich,
        lambda_function._store,
        lambda_function._slack_handler,
    ):
        cached.cache_clear()
    try:
        handler(args.handler, args.seed, slack)
        door(args.door, args.seed)
    finally:
        slack.close()
        stand_in.close()


if __name__ == "__main__":
    main()
