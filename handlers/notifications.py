"""The notification door: AWS events in, Slack posts out.

What to post is decided in bot/plan.py (pure); here the events are enriched, delivered and
logged, and a failure is never silent: it raises so that Lambda retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.config import Config
from bot.domain.events import ParseError, parse_payload
from bot.domain.model import Deployment, Enrich
from bot.ledger import Ledger
from bot.plan import Planned, describe, log_keys, plan
from bot.slack import DeliveryError, Poster
from bot.store import Store, StoreError
from handlers.living import LivingDelivery

logger = logging.getLogger(__name__)


def enrich_posted(
    events: Iterable[Deployment], config: Config, enrich: Enrich | None
) -> list[Deployment]:
    """Enrich the events the noise policy posts; AWS lookups are for what people will read.

    `enrich` never raises: a lookup that fails becomes a note on the message.
    """
    if enrich is None:
        return list(events)
    return [event if config.skip_reason(event) else enrich(event) for event in events]


def deliver(planned: Iterable[Planned], poster: Poster) -> list[DeliveryError]:
    """Post every planned message; log skips; return failures instead of stopping at the first."""
    failures = []
    for item in planned:
        keys = dict(log_keys(item.event))
        if item.message is None:
            logger.info("skipped %s: %s", describe(item.event), item.skip_reason, extra=keys)
            continue
        try:
            poster.post(item.message)
        except DeliveryError as exc:
            logger.exception("could not post %s", describe(item.event), extra=keys)
            failures.append(exc)
        else:
            channel = item.message["channel"]
            logger.info("posted %s to %s", describe(item.event), channel, extra=keys)
    return failures


def deliver_events(
    events: Iterable[Deployment],
    config: Config,
    poster: Poster,
    store: Store | None,
    *,
    delivery: LivingDelivery | None = None,
) -> tuple[int, list[DeliveryError]]:
    """Deliver each event: into its living message with a store, else as a post of its own.

    Returns how many events changed Slack, and the failures. When the store fails before
    Slack was called, the event is posted on its own: no update, no dedupe, but never silence.
    With a store, each event is also folded into the ledger (one conditional write).
    """
    if store is None:
        planned = plan(events, config)
        missed = deliver(planned, poster)
        return sum(1 for p in planned if p.message is not None) - len(missed), missed
    delivery = delivery or LivingDelivery(config, poster, store)
    ledger = Ledger(store)
    changed = 0
    failures: list[DeliveryError] = []
    for event in events:
        ledger.record(event)
        try:
            changed += delivery.deliver(event)
        except StoreError:
            logger.exception("store unavailable: posting %s without updates", describe(event))
            planned = plan([event], config)
            missed = deliver(planned, poster)
            failures.extend(missed)
            changed += sum(1 for p in planned if p.message is not None) - len(missed)
        except DeliveryError as exc:
            logger.exception("could not deliver %s", describe(event))
            failures.append(exc)
    return changed, failures


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
    posted, failures = deliver_events(events, config, poster, store)
    if failures:
        raise DeliveryError(f"{len(failures)} of {len(events)} notifications were not posted")
    return {"posted": posted, "skipped": len(events) - posted}
