"""`/deploy-status` and its "Share in channel" button.

Slack waits 3 seconds for the ack, and AWS reads can take longer: the ack answers at once and
the lookup runs in a lazy listener (on Lambda, a second invocation of the same function) that
answers through the interaction's `response_url`. Answers are ephemeral until shared.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext

from blocks import ids
from blocks.deploy_status import COMMAND, build_answer, build_help
from blocks.text import code_span
from bot import aws
from bot.aws.deploy_status import look_up
from bot.domain.model import AwsProblem, Lookup, NotFound
from bot.slack import DeliveryError, make_responder
from handlers.common import config_of, respond
from handlers.freeze import freeze_controls

logger = logging.getLogger(__name__)

SORRY = ":warning: Something went wrong looking that up; the function's logs say what."


def register(app: App) -> None:
    """Wire the command (help answered at once, lookups lazily) and the Share button."""
    app.command(COMMAND, matchers=[_asks_help])(handle_help)
    app.command(COMMAND)(ack=ack_deploy_status, lazy=[run_deploy_status])
    app.action(ids.SHARE_STATUS)(ack=ack_share, lazy=[run_share])


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


def _look_up(query: str, context: BoltContext) -> Lookup:
    """Read AWS through the shared clients (boto3 loads here, in the lazy listener)."""

    try:
        codepipeline, codedeploy = aws.client("codepipeline"), aws.client("codedeploy")
    except aws.AwsError as exc:
        return exc.problem
    return look_up(query, config_of(context), codepipeline, codedeploy)


def run_deploy_status(command: dict[str, Any], context: BoltContext) -> None:
    """Look the query up in AWS and answer privately, with a Share button (and Freeze or
    Unfreeze for a pipeline deploybot may freeze)."""
    query = str(command.get("text") or "").strip()
    response_url = str(command.get("response_url") or "")
    try:
        lookup = _look_up(query, context)
        controls = freeze_controls(lookup, config_of(context))
        message = build_answer(lookup, query=query, share=True, controls=controls)
    except Exception:
        logger.exception("/deploy-status %r failed", query[:100])
        message = {"text": SORRY}
    respond(response_url, {**message, "response_type": "ephemeral", "replace_original": True})


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
