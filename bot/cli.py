"""The `deploybot` command line: render or send a notification payload."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, load_config
from bot.events import ParseError, parse_text
from bot.preview import preview
from bot.slack import make_poster
from bot.store import make_store
from handlers.living import deliver_living
from handlers.notifications import deliver, plan

EXIT_OK = 0
EXIT_DELIVERY = 1
EXIT_USAGE = 2


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploybot", description="Slack notifications for AWS CodePipeline and CodeDeploy."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="print what would be posted, post nothing")
    render.add_argument("file", help="a payload file (SNS, EventBridge, ...), or - for stdin")
    render.add_argument("--json", action="store_true", help="print chat.postMessage arguments")
    render.add_argument("--offline", action="store_true", help="make no AWS call")
    render.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    send = commands.add_parser("send", help="post the payload's notifications to Slack")
    send.add_argument("file", help="a payload file, or - for stdin")
    send.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
        planned = plan(parse_text(_read(args.file)), config)
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
