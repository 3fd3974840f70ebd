"""The `deploybot` command line: render or send a notification, serve the app, print status."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.aws.secrets import with_secrets
from bot.config import load_config
from bot.domain.config import Config, ConfigError
from bot.domain.events import ParseError, parse_text
from bot.domain.model import Deployment, Enrich
from bot.logs import quiet_wire_logs
from bot.plan import plan
from bot.preview import preview, render_blocks
from bot.slack import make_poster
from bot.store import Store, make_store
from handlers.notifications import deliver_events, enrich_posted

EXIT_OK = 0
EXIT_DELIVERY = 1
EXIT_USAGE = 2
EXIT_PROBLEM = 1  # `status`: AWS could not be read, or the name matches nothing
DEFAULT_PORT = 3000


def _read(source: str) -> str:
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None


def _enricher(config: Config, store: Store | None = None) -> Enrich:
    # Imported here: --offline and parse errors never load boto3.
    from bot.aws.enrich import enricher_from_environment
    from bot.directory import make_directory

    return enricher_from_environment(config, people=make_directory(config, store))


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
    from blocks.deploy_status import build_answer
    from bot import aws
    from bot.aws.deploy_status import look_up
    from bot.domain.model import AwsProblem, Lookup, NotFound

    lookup: Lookup
    try:
        lookup = look_up(name, config, aws.client("codepipeline"), aws.client("codedeploy"))
    except aws.AwsError as exc:
        lookup = exc.problem
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
    quiet_wire_logs()  # botocore's DEBUG lines carry SSM values and signed headers
    try:
        config = with_secrets(load_config(args.config))
        if args.command == "status":
            return _status(config, args.name, args.json)
        if args.command == "check":
            return _check(config)
        if args.command == "serve":
            return _serve(config, args.port)
        events = parse_text(_read(args.file))
        if args.command == "send":
            return _send(events, config)
        offline = args.offline or not config.enrich.enabled
        events = enrich_posted(events, config, None if offline else _enricher(config))
    except (ParseError, ConfigError) as exc:
        print(f"deploybot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _render(events, config, as_json=args.json)


def _send(events: list[Deployment], config: Config) -> int:
    """Post for real: into living messages with a store, else one post per event."""
    poster = make_poster(config)
    store = make_store(config)
    if config.enrich.enabled:
        events = enrich_posted(events, config, _enricher(config, store))
    changed, failures = deliver_events(events, config, poster, store)
    if store is not None:
        where = config.store_table or config.store_path
        print(
            f"delivered {len(events) - len(failures)} of {len(events)} notifications "
            f"({changed} changed a message in Slack; state in {where})"
        )
    else:
        posted = sum(1 for e in events if not config.skip_reason(e))
        print(f"posted {posted - len(failures)} of {posted} messages")
    for failure in failures:
        print(f"deploybot: {failure}", file=sys.stderr)
    return EXIT_DELIVERY if failures else EXIT_OK


def _render(events: list[Deployment], config: Config, *, as_json: bool) -> int:
    """Print what would be posted, and why anything is skipped; post nothing."""
    planned = plan(events, config)
    for item in planned:
        if item.message is None:
            print(f"skipped: {item.skip_reason}", file=sys.stderr)
    messages = [item.message for item in planned if item.message is not None]
    if as_json:
        print(json.dumps(messages, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(preview(message) for message in messages))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
