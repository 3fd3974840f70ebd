"""`/deploy-status`, its "Share in channel" and "Next" buttons.

Slack waits 3 seconds for the ack, and AWS reads can take longer: the ack answers at once and
the lookup runs in a lazy listener (on Lambda, a second invocation of the same function) that
answers through the interaction's `response_url`. Answers are ephemeral until shared. After
answering a list, the same listener goes on reading what the ledger lacks (`backfill`), so the
next answer shows pipelines it had not seen.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext

from blocks import ids
from blocks.deploy_status import COMMAND, build_answer, build_help, read_page_value
from blocks.text import code_span
from bot import aws
from bot.aws.accounts import accounts_of
from bot.aws.deploy_status import backfill_in, look_up_in
from bot.domain.config import Config
from bot.domain.model import AwsProblem, Lookup, NotFound, StatusReport
from bot.ledger import Ledger
from bot.slack import DeliveryError, make_responder
from bot.store import make_store
from handlers.common import config_of, respond
from handlers.freeze import freeze_controls

logger = logging.getLogger(__name__)

SORRY = ":warning: Something went wrong looking that up; the function's logs say what."


def register(app: App) -> None:
    """Wire the command (help answered at once, lookups lazily) and the Share button."""
    app.command(COMMAND, matchers=[_asks_help])(handle_help)
    app.command(COMMAND)(ack=ack_deploy_status, lazy=[run_deploy_status])
    app.action(ids.SHARE_STATUS)(ack=ack_share, lazy=[run_share])
    app.action(ids.STATUS_NEXT)(ack=ack_next, lazy=[run_next])


def _asks_help(command: dict[str, Any]) -> bool:
    return str(command.get("text") or "").strip().lower() in ("help", "-h", "--help", "?")


def handle_help(ack: Ack) -> None:
    """Usage needs no AWS call: answer in the ack itself."""
    ack(response_type="ephemeral", **build_help())


def ack_deploy_status(ack: Ack, command: dict[str, Any]) -> None:
    """Tell the user the lookup started; the reads happen in run_deploy_status."""
    query = str(command.get("text") or "").strip()
    what = code_span(query, 102) if query else "every pipeline"
    ack(response_type="ephemeral", text=f":mag: Looking up {what}…")


def _ledger(config: Config) -> Ledger | None:
    store = make_store(config)
    return Ledger(store) if store is not None else None


def _look_up(query: str, context: BoltContext, page: int = 0) -> Lookup:
    """Read the ledger and AWS in every configured account and region (boto3 loads here,
    lazily; a spoke's role is assumed here, never on the ack)."""
    config = config_of(context)
    try:
        return look_up_in(query, config, accounts_of(config), ledger=_ledger(config), page=page)
    except aws.AwsError as exc:
        return exc.problem


def _answer_privately(query: str, page: int, response_url: str, context: BoltContext) -> None:
    """Answer through `response_url` in place of what is there (with Freeze or Unfreeze for a
    pipeline deploybot may freeze); then fill the ledger in."""
    lookup: Lookup | None = None
    try:
        lookup = _look_up(query, context, page)
        controls = freeze_controls(lookup, config_of(context))
        message = build_answer(lookup, query=query, share=True, controls=controls)
    except Exception:
        logger.exception("/deploy-status %r failed", query[:100])
        message = {"text": SORRY}
    respond(response_url, {**message, "response_type": "ephemeral", "replace_original": True})
    if isinstance(lookup, StatusReport):
        _backfill(config_of(context))


def _backfill(config: Config) -> None:
    """Read what the ledger has not seen yet, within `status.backfill_seconds`."""
    ledger = _ledger(config)
    if ledger is None or not config.status.backfill_seconds:
        return
    try:
        read = backfill_in(
            config, accounts_of(config), ledger, seconds=config.status.backfill_seconds
        )
    except Exception:
        logger.exception("filling the ledger in failed")
        return
    logger.info("filled the ledger in: %d reads", read)


def run_deploy_status(command: dict[str, Any], context: BoltContext) -> None:
    """Look the query up and answer privately, with a Share button (and Next for a list)."""
    query = str(command.get("text") or "").strip()
    _answer_privately(query, 0, str(command.get("response_url") or ""), context)


def ack_next(ack: Ack) -> None:
    """Acknowledge the click at once; the next page is read in run_next."""
    ack()


def run_next(body: dict[str, Any], context: BoltContext) -> None:
    """Replace the private answer with the next page of the same list."""
    query, page = read_page_value(str(body["actions"][0].get("value") or ""))
    _answer_privately(query, page, str(body.get("response_url") or ""), context)


def ack_share(ack: Ack) -> None:
    """Acknowledge the click at once; the fresh lookup runs in run_share."""
    ack()


def run_share(body: dict[str, Any], context: BoltContext) -> None:
    """Look the query up again and post it for the whole channel, then drop the private copy."""
    action = body["actions"][0]
    query = str(action.get("value") or "")
    user = str((body.get("user") or {}).get("id") or "")
    response_url = str(body.get("response_url") or "")
    lookup: Lookup | None = None
    try:
        lookup = _look_up(query, context)
        message = build_answer(lookup, query=query, share=False, shared_by=user)
    except Exception:
        logger.exception("sharing /deploy-status %r failed", query[:100])
        message = {"text": SORRY}
    if lookup is None or isinstance(lookup, AwsProblem | NotFound):
        # Nothing worth showing the channel: tell the user why, in place of their answer.
        respond(response_url, {**message, "response_type": "ephemeral", "replace_original": True})
        return
    try:
        responder = make_responder(response_url)
        responder.post({**message, "response_type": "in_channel", "replace_original": False})
        responder.post({"delete_original": True})
    except DeliveryError:
        logger.exception("could not share the /deploy-status answer")
