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
from bot.rollback import target_for
from bot.slack import METADATA_EVENT_TYPE, DeliveryError, Poster
from bot.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Planned:
    """One event and what becomes of it: a chat.postMessage argument object, or a skip reason."""

    event: Deployment
    message: dict[str, Any] | None
    skip_reason: str = ""


def build_post(event: Deployment, config: Config, **payload: str) -> dict[str, Any]:
    """The chat.postMessage arguments for one event: channel, text, blocks and metadata."""
    message = build_message(
        event,
        site_url=config.site_for(event),
        mentions=config.failure_mentions,
        rollback=target_for(event, config.rollback),
    )
    return post_arguments(event, config.channel_for(event), message, **payload)


def post_arguments(
    event: Deployment, channel: str, message: dict[str, Any], **payload: str
) -> dict[str, Any]:
    """chat.postMessage arguments: the message, where it goes, and metadata to find it again."""
    return {
        "channel": channel,
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
                **payload,
            },
        },
    }


def enrich_posted(
    events: Iterable[Deployment], config: Config, enrich: Enrich | None
) -> list[Deployment]:
    """Enrich the events the noise policy posts; AWS lookups are for what people will read.

    `enrich` never raises: a lookup that fails becomes a note on the message.
    """
    if enrich is None:
        return list(events)
    return [event if config.skip_reason(event) else enrich(event) for event in events]


def plan(
    events: Iterable[Deployment], config: Config, enrich: Enrich | None = None
) -> list[Planned]:
    """Apply the noise policy, enrich what is posted (AWS lookups), and render it."""
    planned = []
    for event in enrich_posted(events, config, enrich):
        reason = config.skip_reason(event)
        if reason:
            planned.append(Planned(event, None, reason))
        else:
            planned.append(Planned(event, build_post(event, config)))
    return planned


def _keys(event: Deployment) -> dict[str, str]:
    """The ids a log line about this event carries as structured keys."""
    return {
        "deployment_id": event.deployment_id,
        "pipeline": event.pipeline,
        "pipeline_execution_id": event.execution_id,
        "event_id": event.event_id,
    }


def describe(event: Deployment) -> str:
    """The event in a few words, for logs."""
    names = [event.pipeline, event.application, event.deployment_group, event.deployment_id]
    return f"{event.scope.value} {event.status.value} " + "/".join(n for n in names if n)


def deliver(planned: Iterable[Planned], poster: Poster) -> list[DeliveryError]:
    """Post every planned message; log skips; return failures instead of stopping at the first."""
    failures = []
    for item in planned:
        if item.message is None:
            logger.info(
                "skipped %s: %s", describe(item.event), item.skip_reason, extra=_keys(item.event)
            )
            continue
        try:
            poster.post(item.message)
        except DeliveryError as exc:
            logger.exception("could not post %s", describe(item.event), extra=_keys(item.event))
            failures.append(exc)
        else:
            logger.info(
                "posted %s to %s",
                describe(item.event),
                item.message["channel"],
                extra=_keys(item.event),
            )
    return failures


def handle_lambda_event(
    event: Mapping[str, Any],
    config: Config,
    poster: Poster,
    enrich: Enrich | None = None,
    store: Store | None = None,
) -> dict[str, int]:
    """Handle an SNS or EventBridge Lambda event; raise if any post failed so Lambda retries.

    Each SNS record is parsed on its own: one bad record is logged and does not stop the others.
    With a store, each deployment or execution gets one message, updated in place.
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
    events = enrich_posted(events, config, enrich)
    if store is None:
        planned = plan(events, config)
        failures = deliver(planned, poster)
        posted = sum(1 for p in planned if p.message is not None)
    else:
        from handlers.living import deliver_living  # it builds on this module

        posted, failures = deliver_living(events, config, poster, store)
    if failures:
        raise DeliveryError(f"{len(failures)} of {len(events)} notifications were not posted")
    return {"posted": posted, "skipped": len(events) - posted}
