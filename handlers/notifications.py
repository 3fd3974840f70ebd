"""The notification door: AWS events in, Slack posts out.

`plan` is pure (events + config -> what to post and what to skip, with reasons); `deliver` and
`handle_lambda_event` do the I/O and make sure a failure is never silent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from blocks.deployment import build_message
from bot.config import Config
from bot.events import ParseError, parse_payload
from bot.model import Deployment, Enrich
from bot.slack import DeliveryError, Poster

logger = logging.getLogger(__name__)

METADATA_EVENT_TYPE = "deploybot_notification"


@dataclass(frozen=True, slots=True)
class Planned:
    """One event and what becomes of it: a chat.postMessage argument object, or a skip reason."""

    event: Deployment
    message: dict[str, Any] | None
    skip_reason: str = ""


def build_post(event: Deployment, config: Config) -> dict[str, Any]:
    """The chat.postMessage arguments for one event: channel, text, blocks and metadata."""
    message = build_message(
        event, site_url=config.site_for(event), mentions=config.failure_mentions
    )
    return {
        "channel": config.channel_for(event),
        **message,
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {
                "source": event.source.value,
                "scope": event.scope.value,
                "status": event.status.value,
                "deployment_id": event.deployment_id,
                "pipeline": event.pipeline,
                "execution_id": event.execution_id,
            },
        },
    }


def plan(
    events: Iterable[Deployment], config: Config, enrich: Enrich | None = None
) -> list[Planned]:
    """Apply the noise policy, enrich what is posted (AWS lookups), and render it.

    `enrich` never raises: a lookup that fails becomes a note on the message.
    """
    planned = []
    for event in events:
        reason = config.skip_reason(event)
        if reason:
            planned.append(Planned(event, None, reason))
            continue
        enriched = enrich(event) if enrich is not None else event
        planned.append(Planned(enriched, build_post(enriched, config)))
    return planned


def _keys(event: Deployment) -> dict[str, str]:
    """The ids a log line about this event carries as structured keys."""
    return {
        "deployment_id": event.deployment_id,
        "pipeline": event.pipeline,
        "pipeline_execution_id": event.execution_id,
        "event_id": event.event_id,
    }


def _describe(event: Deployment) -> str:
    names = [event.pipeline, event.application, event.deployment_group, event.deployment_id]
    return f"{event.scope.value} {event.status.value} " + "/".join(n for n in names if n)


def deliver(planned: Iterable[Planned], poster: Poster) -> list[DeliveryError]:
    """Post every planned message; log skips; return failures instead of stopping at the first."""
    failures = []
    for item in planned:
        if item.message is None:
            logger.info(
                "skipped %s: %s", _describe(item.event), item.skip_reason, extra=_keys(item.event)
            )
            continue
        try:
            poster.post(item.message)
        except DeliveryError as exc:
            logger.exception("could not post %s", _describe(item.event), extra=_keys(item.event))
            failures.append(exc)
        else:
            logger.info(
                "posted %s to %s",
                _describe(item.event),
                item.message["channel"],
                extra=_keys(item.event),
            )
    return failures


def handle_lambda_event(
    event: Mapping[str, Any], config: Config, poster: Poster, enrich: Enrich | None = None
) -> dict[str, int]:
    """Handle an SNS or EventBridge Lambda event; raise if any post failed so Lambda retries.

    Each SNS record is parsed on its own: one bad record is logged and does not stop the others.
    """
    records = event.get("Records")
    units: list[object] = (
        [{"Records": [r]} for r in records] if isinstance(records, list) else [event]
    )
    events: list[Deployment] = []
    for unit in units:
        try:
            events.extend(parse_payload(unit))
        except ParseError:
            logger.exception("ignored a record that is not an AWS notification")
    planned = plan(events, config, enrich)
    failures = deliver(planned, poster)
    if failures:
        raise DeliveryError(f"{len(failures)} of {len(planned)} notifications were not posted")
    posted = sum(1 for p in planned if p.message is not None)
    return {"posted": posted, "skipped": len(planned) - posted}
