"""The `deploybot` command line: render or send a notification, serve the app, print status."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import Config, ConfigError, load_config
from bot.events import ParseError, parse_text
from bot.model import Enrich
from bot.preview import preview, render_blocks
from bot.secrets import with_secrets
from bot.slack import make_poster
from bot.store import make_store
from handlers.living import deliver_living
from handlers.notifications import deliver, plan

EXIT_OK = 0
EXIT_DELIVERY = 1
EXIT_USAGE = 2
EXIT_PROBLEM = 1  # `status`: AWS could not be read, or the name matches nothing
DEFAULT_PORT = 3000


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None


def _enricher(config: Config) -> Enrich:
    # Imported here: --offline and parse errors never load boto3.
    from bot.enrich import enricher_from_environment

    return enricher_from_environment(config)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploybot", description="Slack notifications for AWS CodePipeline and CodeDeploy."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="print what would be posted, post nothing")
    render.add_argument("file", help="a payload file (SNS, EventBridge, ...), or - for stdin")
    render.add_argument("--json", action="store_true", help="print chat.postMessage arguments")
    render.add_argument(
        "--offline", action="store_true", help="make no AWS call (no commit lookup)"
    )
    render.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    send = commands.add_parser("send", help="post the payload's notifications to Slack")
    send.add_argument("file", help="a payload file, or - for stdin")
    send.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    serve = commands.add_parser(
        "serve", help="run the Slack app locally (Socket Mode with SLACK_APP_TOKEN, else HTTP)"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (default 3000)")
    serve.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    status = commands.add_parser("status", help="print the /deploy-status answer")
    status.add_argument("name", nargs="?", default="", help="a pipeline, application or group")
    status.add_argument("--json", action="store_true", help="print the Block Kit message")
    status.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    check = commands.add_parser("check", help="check the config, Slack and AWS access")
    check.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    return parser


def _check(config: Config) -> int:
    """Print the checklist; exit 1 when something needs fixing."""
    from bot import aws
    from bot.check import Check, check_aws, check_signing_secret, check_slack, format_checklist
    from bot.slack import make_web_client

    checks = [Check("config", True, "valid")]
    checks.extend(check_slack(config, make_web_client(config)))
    checks.append(check_signing_secret(config))
    reason = aws.unavailable_reason()
    if reason:
        checks.append(Check("AWS", False, reason, "configure AWS credentials and a region"))
    else:
        checks.extend(check_aws(config, aws.client("codepipeline"), aws.client("codedeploy")))
    print(format_checklist(checks))
    return EXIT_OK if all(c.ok for c in checks) else EXIT_PROBLEM


def _status(config: Config, name: str, as_json: bool) -> int:
    """Print the same answer /deploy-status gives; exit 1 when it reports a problem."""
    from blocks.status_report import build_answer
    from bot.model import AwsProblem, NotFound
    from bot.status import look_up

    lookup = look_up(name, config)
    message = build_answer(lookup, query=name, share=False)
    if as_json:
        print(json.dumps(message, indent=2, ensure_ascii=False))
    else:
        print(render_blocks(message["blocks"]).rstrip())
    return EXIT_PROBLEM if isinstance(lookup, AwsProblem | NotFound) else EXIT_OK


def _serve(config: Config, port: int) -> int:
    """Run the Bolt app until interrupted."""
    from bot.app import create_app

    if config.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        app = create_app(config, socket_mode=True)
        print("deploybot: connecting to Slack in Socket Mode", file=sys.stderr)
        SocketModeHandler(app, config.slack_app_token).start()  # type: ignore[no-untyped-call]
        return EXIT_OK
    app = create_app(config)
    print(f"deploybot: listening on http://localhost:{port}/slack/events", file=sys.stderr)
    app.start(port=port)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = with_secrets(load_config(args.config))
        if args.command == "status":
            return _status(config, args.name, args.json)
        if args.command == "check":
            return _check(config)
        if args.command == "serve":
            return _serve(config, args.port)
        events = parse_text(_read(args.file))
        offline = getattr(args, "offline", False) or not config.enrich.enabled
        planned = plan(events, config, None if offline else _enricher(config))
        poster = make_poster(config) if args.command == "send" else None
        store = make_store(config) if poster is not None else None
    except (ParseError, ConfigError) as exc:
        print(f"deploybot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    messages = [item.message for item in planned if item.message is not None]
    if poster is not None and store is not None:
        events = [item.event for item in planned]
        changed, failures = deliver_living(events, config, poster, store)
        print(
            f"delivered {len(events) - len(failures)} of {len(events)} notifications "
            f"({changed} changed a message in Slack; state in "
            f"{config.store_table or config.store_path})"
        )
        for failure in failures:
            print(f"deploybot: {failure}", file=sys.stderr)
        return EXIT_DELIVERY if failures else EXIT_OK
    for item in planned:
        if item.message is None:
            print(f"skipped: {item.skip_reason}", file=sys.stderr)
    if poster is not None:
        failures = deliver(planned, poster)
        print(f"posted {len(messages) - len(failures)} of {len(messages)} messages")
        for failure in failures:
            print(f"deploybot: {failure}", file=sys.stderr)
        return EXIT_DELIVERY if failures else EXIT_OK
    if args.json:
        print(json.dumps(messages, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(preview(message) for message in messages))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
