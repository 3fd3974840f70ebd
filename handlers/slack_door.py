"""The Slack door's checks: who may knock, before Bolt reads anything.

On Lambda, Bolt parses a request's body before its middleware checks the signature (the
parsing happens when `BoltRequest` is built), so a body it cannot parse (`payload=x`,
`payload=[]`, bytes that are not UTF-8) used to raise before the signature was checked and
answer 502 with a stack trace. `SlackDoor` checks the signature on the raw bytes first (401),
then that Bolt can read the body and that its user, team, actions, view and event have the
shapes Slack sends (400), and only then hands the event to Bolt, which checks the signature
again. `only_from` is Bolt middleware (Lambda, `deploybot serve`, Socket Mode):
a signed request from a workspace that is not served gets 403 and runs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bot.domain.slack_request import (
    RawRequest,
    is_signed,
    is_ssl_check,
    misshapen,
    raw_request,
)
from bot.slack import Workspaces

logger = logging.getLogger(__name__)


def _answer(status: int, body: str) -> dict[str, Any]:
    return {"statusCode": status, "body": body, "headers": {"content-type": "text/plain"}}


class SlackDoor:
    """Bolt's Lambda adapter behind the checks Bolt makes too late or not at all."""

    def __init__(
        self,
        bolt: SlackRequestHandler,
        signing_secret: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bolt = bolt
        self._secret = signing_secret
        self._clock = clock

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Answer a refused request here; hand a signed, readable one to Bolt."""
        request = raw_request(event)
        if request is None or request.method != "POST":
            return _answer(404, "Not Found")
        if is_ssl_check(request):  # answered before the signature, as Bolt does
            return _answer(200, "")
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        response: dict[str, Any] = self.bolt.handle(event, context)  # type: ignore[no-untyped-call]
        return response

    def refusal(self, request: RawRequest) -> dict[str, Any] | None:
        """401 for a bad signature; 400 for a signed body Bolt cannot read, or whose fields are
        not of the shape Slack sends (`misshapen`); else None."""
        if not is_signed(request, self._secret, self._clock()):
            logger.warning("refused a request that Slack did not sign (401)")
            return _answer(401, "invalid request")
        assert request.body is not None  # is_signed checked it
        try:  # whatever Bolt's parser raises on it, the body is one Bolt cannot read
            body: object = BoltRequest(
                body=request.body.decode("utf-8"), headers=dict(request.headers)
            ).body
        except Exception as exc:
            reason = type(exc).__name__
        else:
            # json.loads may give a list, whatever Bolt's types say
            field = misshapen(body) if isinstance(body, dict) else ""
            if isinstance(body, dict) and not field:
                return None
            reason = f"its {field} is not what Slack sends" if field else "not an object"
        logger.warning("refused a signed request whose body cannot be read (%s; 400)", reason)
        return _answer(400, "unreadable request")


def only_from(
    workspaces: Workspaces,
) -> Callable[[BoltContext, Callable[[], None]], BoltResponse | None]:
    """Middleware: requests from served workspaces pass; others get 403 (503 if unknown)."""

    def served_workspaces_only(
        context: BoltContext, next_: Callable[[], None]
    ) -> BoltResponse | None:
        allowed = workspaces.allows(context.team_id, context.enterprise_id)
        if allowed is None:
            return BoltResponse(status=503, body="deploybot cannot tell which workspace it serves")
        if not allowed:
            logger.warning(
                "refused a request from workspace %s (enterprise %s): not served (403)",
                context.team_id,
                context.enterprise_id,
            )
            return BoltResponse(status=403, body="this workspace is not served")
        next_()
        return None

    return served_workspaces_only
