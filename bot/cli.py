"""The `deploybot` command line: render or send a notification, serve the app, print status.

Every failure ends in one line on stderr that names the thing (channel, key, URL) and the fix,
with exit status 1, or 2 for bad input; `--verbose` adds log lines and the traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot import explain
from bot.aws.secrets import with_secrets
from bot.config import load_config
from bot.domain.config import Config, ConfigError, with_channel
from bot.domain.events import ParseError, parse_text
from bot.domain.model import Deployment, Enrich
from bot.logs import quiet_wire_logs
from bot.plan import plan
from bot.preview import preview, render_blocks
from bot.store import Store
from handlers.notifications import enrich_posted

EXIT_OK = explain.EXIT_OK
EXIT_USAGE = explain.EXIT_USAGE
EXIT_PROBLEM = explain.EXIT_PROBLEM  # `status`: AWS could not be read, or the name matches nothing
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE (13): what shells report for a command SIGPIPE ended
DEFAULT_PORT = 3000

logger = logging.getLogger(__name__)


class UsageError(Exception):
    """Bad input on the command line itself; exit 2."""


def _read(source: str) -> str:
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from None


def _enricher(config: Config, store: Store | None = None) -> Enrich:
    # Imported here: --offline and parse errors never load boto3.
    from bot.aws.enrich import enricher_from_environment
    from bot.directory import make_directory

    return enricher_from_environment(config, store, people=make_directory(config, store))


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config file (default: $DEPLOYBOT_CONFIG)")
    common.add_argument(
        "--verbose", "-v", action="store_true", help="show log lines, and a traceback on failure"
    )
    parser = argparse.ArgumentParser(
        prog="deploybot", description="Slack notifications for AWS CodePipeline and CodeDeploy."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser(
        "render", parents=[common], help="print what would be posted, post nothing"
    )
    render.add_argument("file", help="a payload file (SNS, EventBridge, ...), or - for stdin")
    shown = render.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print chat.postMessage arguments")
    shown.add_argument(
        "--html", metavar="PAGE", help="write a page drawing the messages as Slack does (- stdout)"
    )
    render.add_argument(
        "--offline", action="store_true", help="make no AWS call (no commit lookup)"
    )
    send = commands.add_parser(
        "send", parents=[common], help="post the payload's notifications to Slack"
    )
    send.add_argument("file", help="a payload file, or - for stdin")
    send.add_argument("--channel", help="post every message to this channel (C... or #name)")
    send.add_argument(
        "--fresh", action="store_true", help="ignore what the store remembers: post anew"
    )
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the Slack app locally (Socket Mode with SLACK_APP_TOKEN, else HTTP)",
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (default 3000)")
    status = commands.add_parser("status", parents=[common], help="print the /deploy-status answer")
    status.add_argument("name", nargs="?", default="", help="a pipeline, application or group")
    answer = status.add_mutually_exclusive_group()
    answer.add_argument("--json", action="store_true", help="print the Block Kit message")
    answer.add_argument("--html", metavar="PAGE", help="write the answer as a page (- for stdout)")
    check = commands.add_parser(
        "check", parents=[common], help="check the config, Slack and AWS access"
    )
    role = check.add_mutually_exclusive_group()
    role.add_argument("--role", help="the function's IAM role ARN, to simulate its policy")
    role.add_argument("--stack", help="the stack name, to read the role from its outputs")
    sweep = "bring messages that missed an event up to date (what the schedule runs)"
    commands.add_parser("sweep", parents=[common], help=sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    _configure_logging(verbose=args.verbose, server=args.command == "serve")
    quiet_wire_logs()  # even with --verbose: botocore's DEBUG lines carry SSM values
    config: Config | None = None
    try:
        config = with_secrets(load_config(args.config))
        status = _COMMANDS[args.command](args, config)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Whoever read stdout stopped (`deploybot render ... | head`): not a failure to report.
        # Slack's and AWS's closed connections arrive wrapped (URLError, botocore's errors).
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # every failure ends in one line, never a traceback
        if args.verbose:
            traceback.print_exc()
        status, line = _explain(exc, config)
        print(f"deploybot: {line}", file=sys.stderr)
    return status


def _discard_stdout() -> None:
    """Point stdout at the null device, so that Python's flush at exit fails no more (the
    idiom of Python's `signal` documentation, "Note on SIGPIPE")."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def _explain(exc: Exception, config: Config | None) -> tuple[int, str]:
    """The exit status and the one line for a failure."""
    from urllib.error import URLError

    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.aws import AwsError
    from bot.slack import WEBHOOK_CHANNEL, DeliveryError
    from bot.store import StoreError

    if isinstance(exc, ParseError | ConfigError | UsageError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, DeliveryError):
        webhook = exc.channel == WEBHOOK_CHANNEL
        return EXIT_PROBLEM, explain.slack_error(
            exc.code, exc.channel, api_url=_api_url(config), webhook=webhook
        )
    if isinstance(exc, AwsError):
        return EXIT_PROBLEM, explain.aws_problem(exc.problem)
    if isinstance(exc, SlackApiError):  # serve: Socket Mode with a bad app token, and such
        code = str(exc.response.get("error", ""))
        if code in explain.TOKEN_ERRORS:
            return EXIT_PROBLEM, (
                f"Slack refused a token ({code}): check SLACK_BOT_TOKEN, and for Socket Mode "
                "SLACK_APP_TOKEN (xapp-..., Basic Information → App-Level Tokens)"
            )
        return EXIT_PROBLEM, explain.slack_error(code)
    if isinstance(exc, SlackClientError | URLError):
        return EXIT_PROBLEM, explain.slack_error("unreachable", api_url=_api_url(config))
    if isinstance(exc, StoreError):
        return EXIT_PROBLEM, f"{exc}: check [store] in the config, or send with --fresh"
    return EXIT_PROBLEM, (
        f"unexpected {type(exc).__name__}: {exc} (run again with --verbose for the traceback)"
    )


def _api_url(config: Config | None) -> str:
    return config.slack_api_url if config else ""


class _OneLine(logging.Formatter):
    """Log records as one line each, without tracebacks (the command reports failures itself)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"deploybot: {record.levelname.lower()}: {record.getMessage()}"


def _configure_logging(*, verbose: bool, server: bool) -> None:
    """--verbose: every log line with tracebacks. Otherwise a command prints its own outcome and
    stays quiet; `serve` (a server) shows warnings, one line each."""
    root = logging.getLogger()
    if root.handlers:  # embedded (tests, another program): keep the host's logging
        return
    handler = logging.StreamHandler()
    if verbose:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        level = logging.INFO
    else:
        handler.setFormatter(_OneLine())
        # A failure logged with its traceback is one the command reports in its last line.
        handler.addFilter(lambda record: record.exc_info is None)
        level = logging.WARNING if server else logging.CRITICAL
    root.addHandler(handler)
    root.setLevel(level)


# --- render ------------------------------------------------------------------------------------


def _render(args: argparse.Namespace, config: Config) -> int:
    """Print what would be posted, and why anything is skipped; post nothing."""
    events = parse_text(_read(args.file))
    offline = args.offline or not config.enrich.enabled
    events = enrich_posted(events, config, None if offline else _enricher(config))
    planned = plan(events, config)
    for item in planned:
        if item.message is None:
            print(f"skipped: {item.skip_reason}", file=sys.stderr)
    messages = [item.message for item in planned if item.message is not None]
    if args.html:
        from bot.preview_html import page

        _write(args.html, page([dict(m) for m in messages], title=Path(args.file).name))
    elif args.json:
        print(json.dumps(messages, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(preview(message) for message in messages))
    return EXIT_OK


def _write(target: str, text: str) -> None:
    """Write `text` to the file `target`, or to stdout for "-"."""
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"wrote {target}: open it in a browser", file=sys.stderr)


# --- send --------------------------------------------------------------------------------------


def _send(args: argparse.Namespace, config: Config) -> int:
    """Post for real: into living messages with a store, else one post per event."""
    from bot.slack import make_poster

    if args.channel:
        config = with_channel(config, args.channel, "--channel")
    events = parse_text(_read(args.file))
    poster = make_poster(config)
    store = _store_for(config, fresh=args.fresh)
    if config.enrich.enabled:
        events = enrich_posted(events, config, _enricher(config, store))
    if store is None:
        return _send_each(events, config, poster)
    from bot.cli_send import send_living

    return send_living(events, config, poster, store, where=_store_name(config, args.fresh))


def _store_name(config: Config, fresh: bool) -> str:
    if fresh:
        return "memory (--fresh)"
    return config.store_table or config.store_path


def _store_for(config: Config, *, fresh: bool) -> Any:
    """The store to deliver through (a blank one with --fresh); None without living messages."""
    from bot.store import SqliteStore, StoreError, make_store

    if config.store_backend == "none":
        return None
    if fresh:
        return SqliteStore(":memory:", ttl_days=config.store_ttl_days)
    store = make_store(config)
    try:
        store.get("deploybot#probe") if store is not None else None
    except StoreError as exc:
        print(
            f"deploybot: warning: {exc}: posting each notification on its own "
            "(fix [store] in the config, or use --fresh)",
            file=sys.stderr,
        )
        return None
    return store


def _send_each(events: list[Deployment], config: Config, poster: Any) -> int:
    """Without a store: one post per notification, as the noise policy says."""
    from bot.cli_send import report_failures
    from handlers.notifications import deliver_events

    _, failures = deliver_events(events, config, poster, None)
    posted = sum(1 for e in events if not config.skip_reason(e))
    print(f"posted {posted - len(failures)} of {posted} messages")
    return report_failures(failures, config)


# --- status, check, serve ----------------------------------------------------------------------


def _status(args: argparse.Namespace, config: Config) -> int:
    """Print the same answer /deploy-status gives; exit 1 when it reports a problem."""
    from blocks.deploy_status import build_answer
    from bot import aws
    from bot.aws.accounts import accounts_of
    from bot.aws.deploy_status import look_up_in
    from bot.domain.model import AwsProblem, Lookup, NotFound
    from bot.ledger import Ledger
    from bot.store import make_store

    store = make_store(config)
    ledger = Ledger(store) if store is not None else None
    lookup: Lookup
    try:
        lookup = look_up_in(args.name, config, accounts_of(config), ledger=ledger)
    except aws.AwsError as exc:
        lookup = exc.problem
    message = build_answer(lookup, query=args.name, share=False)
    if args.html:
        from bot.preview_html import page

        answer = {**message, "response_type": "ephemeral"}
        _write(args.html, page([answer], title=f"/deploy-status {args.name}".strip()))
    elif args.json:
        print(json.dumps(message, indent=2, ensure_ascii=False))
    else:
        print(render_blocks(message["blocks"]).rstrip())
    return EXIT_PROBLEM if isinstance(lookup, AwsProblem | NotFound) else EXIT_OK


def _check(args: argparse.Namespace, config: Config) -> int:
    """Print the checklist; exit 1 when something needs fixing."""
    from bot.check import format_checklist, run_checks

    checks = run_checks(config, role=args.role or "", stack=args.stack or "")
    print(format_checklist(checks))
    return EXIT_OK if all(c.ok is not False for c in checks) else EXIT_PROBLEM


def _sweep(args: argparse.Namespace, config: Config) -> int:
    """One sweep, as the scheduled event runs it on Lambda; exit 1 when it cannot run."""
    from bot import aws
    from bot.aws.accounts import accounts_of
    from bot.slack import make_poster
    from bot.store import make_store
    from handlers.sweep import run_sweep

    store = make_store(config)
    reason = aws.unavailable_reason()
    if store is None or reason:
        why = reason or 'the sweep needs the store (store.backend is "none")'
        print(f"deploybot: {why}", file=sys.stderr)
        return EXIT_PROBLEM
    report = run_sweep(config, make_poster(config), store, accounts_of(config))
    print(
        f"looked at {report.looked_at} messages: {report.healed} brought up to date, "
        f"{report.folded} folded into their execution's, {report.stuck} stuck, "
        f"{report.reminded} approval reminders, "
        f"{report.failed} failed, {report.left} left for the next sweep; "
        f"{report.backfilled} ledger reads"
    )
    return EXIT_PROBLEM if report.failed else EXIT_OK


def _serve(args: argparse.Namespace, config: Config) -> int:
    """Run the Bolt app until interrupted."""
    from bot.app import create_app

    if config.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        app = create_app(config, socket_mode=True)
        print("deploybot: connecting to Slack in Socket Mode", file=sys.stderr)
        SocketModeHandler(app, config.slack_app_token).start()  # type: ignore[no-untyped-call]
        return EXIT_OK
    app = create_app(config)
    busy = f"port {args.port} is in use: stop what listens there, or use --port N"
    if not _port_free(args.port):
        print(f"deploybot: {busy}", file=sys.stderr)
        return EXIT_PROBLEM
    print(f"deploybot: listening on http://localhost:{args.port}/slack/events", file=sys.stderr)
    try:
        app.start(port=args.port)
    except OSError as exc:  # taken in the moment since the check
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"deploybot: {busy}", file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


def _port_free(port: int) -> bool:
    """Whether Bolt's development server can bind `port` (on every address, as it does)."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does
        try:
            probe.bind(("", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


_COMMANDS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "render": _render,
    "send": _send,
    "status": _status,
    "check": _check,
    "serve": _serve,
    "sweep": _sweep,
}


if __name__ == "__main__":
    sys.exit(main())
