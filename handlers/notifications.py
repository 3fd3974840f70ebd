"""The notification door: AWS events in, Slack posts out.

What to post is decided in bot/plan.py (pure); here the events are enriched, delivered and
logged, and a failure is never silent: it raises so that Lambda retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

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


class UnreadableRecords(ParseError):
    """Some records of a Lambda event are not notifications; the readable ones were delivered."""


def handle_lambda_event(
    event: object,
    config: Config,
    poster: Poster,
    enrich: Enrich | None = None,
    store: Store | None = None,
) -> dict[str, int]:
    """Handle an SNS or EventBridge Lambda event; raise if anything was not delivered.

    Each SNS record is parsed on its own: a record that cannot be read is logged (which record,
    and why; never its content) and the others are delivered. Then the invocation fails, so
    that Lambda's two retries and its dead-letter queue keep the event where it can be seen
    and redriven once deploybot reads it; the retries are bounded (asynchronous invocation),
    and the records already delivered are not posted again when a store dedupes them.
    With a store, each deployment or execution gets one message, updated in place.
    """
    events, unreadable = _parse_records(event)
    events = enrich_posted(events, config, enrich)
    posted, failures = deliver_events(events, config, poster, store)
    if failures:
        raise DeliveryError(f"{len(failures)} of {len(events)} notifications were not posted")
    if unreadable:
        raise UnreadableRecords(
            f"{len(unreadable)} record(s) could not be read ({'; '.join(unreadable)}); "
            f"{posted} notification(s) delivered"
        )
    return {"posted": posted, "skipped": len(events) - posted}


def _parse_records(event: object) -> tuple[list[Deployment], list[str]]:
    """The events of every readable record, and what was wrong with each unreadable one."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        units: list[tuple[str, object]] = [("the event", event)]
    else:
        units = [(f"Records[{i}]{_message_id(r)}", {"Records": [r]}) for i, r in enumerate(records)]
    events: list[Deployment] = []
    unreadable: list[str] = []
    for where, unit in units:
        parsed = _parse(unit)
        if isinstance(parsed, ParseError):
            unreadable.append(f"{where}: {parsed}")
            logger.error("%s is not a notification deploybot reads: %s", where, parsed)
        else:
            events.extend(parsed)
    return events, unreadable


def _parse(unit: object) -> list[Deployment] | ParseError:
    try:
        return parse_payload(unit)
    except ParseError as exc:
        return exc


def _message_id(record: object) -> str:
    """ " (SNS message <id>)" when the record names one, to find it in the dead-letter queue."""
    sns = record.get("Sns") if isinstance(record, Mapping) else None
    message_id = sns.get("MessageId") if isinstance(sns, Mapping) else None
    return (
        f" (SNS message {message_id[:100]})" if isinstance(message_id, str) and message_id else ""
    )
