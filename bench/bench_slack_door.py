"""Time the Slack door: cold start in a new process, and the warm ack in process.

Cold: a fresh Python process imports `bot.lambda_function` and handles one signed
`/deploy-status` Function URL event (ack plus Bolt's asynchronous Lambda invoke, sent to a
local stand-in). With no `[slack] team_id` configured, the workspace is learned from
auth.test on a local fake Slack that answers after `--slack-delay` seconds (a round trip to
Slack); `--team-id` configures it instead. Slack gives 3 s; the goal is under 1 s. Warm: the
same event handled again and again by one process; the goal is under 50 ms. Prints figures,
asserts nothing.

    uv run python bench/bench_slack_door.py [--runs 15] [--warm 200] [--slack-delay 0.1]
        [--team-id]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_lambda import FakeLambda  # noqa: E402
from tests.fake_slack import TOKEN, FakeSlack  # noqa: E402
from tests.slack_requests import SECRET, function_url_event, slash_command  # noqa: E402

CHILD = """
import json, sys, time
started = time.perf_counter()
from bot.lambda_function import handler
from tests.slack_requests import LambdaContext
imported = time.perf_counter()
response = handler(json.loads(sys.stdin.read()), LambdaContext())
done = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import": imported - started, "handle": done - imported}))
"""


CONFIG = Path(tempfile.gettempdir()) / "deploybot-bench-team.toml"


def _env(lambda_url: str, slack_url: str, team_id: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AWS_"))}
    env.pop("DEPLOYBOT_CONFIG", None)
    if team_id:
        CONFIG.write_text('[slack]\nteam_id = "T000"\n')
        env["DEPLOYBOT_CONFIG"] = str(CONFIG)
    env.update(
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_URL=slack_url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_ENDPOINT_URL_LAMBDA=lambda_url,
        PYTHONPATH=str(ROOT),
    )
    return env


def _event() -> str:
    return json.dumps(function_url_event(slash_command("", "https://hooks.slack.com/commands/1")))


def cold(runs: int, lambda_url: str, slack_url: str, team_id: bool) -> None:
    """Median wall time of a new process handling one request."""
    walls, imports, handles = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", CHILD],
            input=_event(),
            capture_output=True,
            text=True,
            env=_env(lambda_url, slack_url, team_id),
            check=True,
        )
        walls.append(time.perf_counter() - started)
        inside = json.loads(result.stdout.strip().splitlines()[-1])
        imports.append(inside["import"])
        handles.append(inside["handle"])
    print(f"cold start, {runs} new processes (median):")
    print(f"  whole process      {statistics.median(walls) * 1000:7.0f} ms   (goal < 1000 ms)")
    print(f"  import the entry   {statistics.median(imports) * 1000:7.0f} ms")
    print(f"  first request      {statistics.median(handles) * 1000:7.0f} ms   (app, ack, invoke)")
    print(f"  slowest process    {max(walls) * 1000:7.0f} ms")


def warm(count: int, lambda_url: str, slack_url: str, team_id: bool) -> None:
    """Median time of one ack once the container is warm."""
    os.environ.update(_env(lambda_url, slack_url, team_id))
    from bot.lambda_function import handler
    from tests.slack_requests import LambdaContext

    context = LambdaContext()
    handler(json.loads(_event()), context)  # the cold one, not counted
    times = []
    for _ in range(count):
        event = json.loads(_event())
        started = time.perf_counter()
        response = handler(event, context)
        times.append(time.perf_counter() - started)
        assert response["statusCode"] == 200, response
    times.sort()
    print(f"warm ack, {count} requests in one process:")
    print(f"  median             {statistics.median(times) * 1000:7.1f} ms   (goal < 50 ms)")
    print(f"  p95                {times[int(len(times) * 0.95)] * 1000:7.1f} ms")


def main() -> None:
    """Run both measurements against a local Lambda stand-in."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="cold processes (at least 10)")
    parser.add_argument("--warm", type=int, default=200, help="warm requests")
    parser.add_argument(
        "--slack-delay", type=float, default=0.1, help="seconds each Slack answer takes"
    )
    parser.add_argument(
        "--team-id", action="store_true", help="configure [slack] team_id (no auth.test)"
    )
    args = parser.parse_args()
    stand_in = FakeLambda.start()
    slack = FakeSlack.start()
    slack.delay = args.slack_delay
    try:
        cold(max(args.runs, 10), stand_in.url, slack.api_url, args.team_id)
        warm(args.warm, stand_in.url, slack.api_url, args.team_id)
        print(f"lazy invocations sent to the stand-in: {len(stand_in.invocations)}")
        print(f"auth.test calls (one per new process at most): {len(slack.calls_to('auth.test'))}")
    finally:
        stand_in.close()
        slack.close()


if __name__ == "__main__":
    main()
