"""`deploybot send` through living messages: deliver, then say where each message is.

The store remembers every message deploybot made, so a second `send` of the same file can say
that nothing was new and where the message already is, rather than "delivered" and silence.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

from bot import explain
from bot.domain.config import Config
from bot.domain.living import MAIN, Slot, kind_of, load_state
from bot.domain.model import Deployment
from bot.slack import WEBHOOK_CHANNEL, DeliveryError, Poster
from bot.store import Store
from handlers.living import LivingDelivery
from handlers.notifications import deliver_events


class _Recording(LivingDelivery):
    """A LivingDelivery that remembers which message each event went to, and if Slack was called."""

    def __init__(self, config: Config, poster: Poster, store: Store) -> None:
        super().__init__(config, poster, store)
        self.outcomes: dict[str, list[tuple[Deployment, bool]]] = {}

    def deliver(self, event: Deployment) -> bool:
        called = super().deliver(event)
        key = self._key(event)  # the link (if any) exists now: this only reads
        self.outcomes.setdefault(key, []).append((event, called))
        return called


def send_living(
    events: Sequence[Deployment], config: Config, poster: Poster, store: Store, *, where: str
) -> int:
    """Deliver into living messages; print what happened per message; exit 1 on a failure."""
    delivery = _Recording(config, poster, store)
    changed, failures = deliver_events(events, config, poster, store, delivery=delivery)
    print(
        f"delivered {len(events) - len(failures)} of {len(events)} notifications "
        f"({changed} changed a message in Slack; state in {where})"
    )
    for key, outcomes in delivery.outcomes.items():
        record = store.get(key)
        main = load_state(record.body).slots.get(MAIN, Slot()) if record else Slot()
        print(f"  {_label(key, outcomes[0][0])}: {_outcome(outcomes, main, config)}")
    return report_failures(failures, config)


def _label(key: str, event: Deployment) -> str:
    """The message in a few words: "pipeline web-prod, execution 1a2b…"."""
    ident = key.partition("#")[2]
    parts = [f"pipeline {event.pipeline}" if event.pipeline else ""]
    if event.application:
        parts.append("/".join(p for p in (event.application, event.deployment_group) if p))
    if ident:
        parts.append(f"{kind_of(key)} {ident if len(ident) <= 20 else ident[:8] + '…'}")
    return ", ".join(p for p in parts if p)


def _outcome(outcomes: list[tuple[Deployment, bool]], main: Slot, config: Config) -> str:
    place = (
        "through the incoming webhook"
        if main.ts == "webhook"
        else f"in {main.channel} (ts {main.ts})"
    )
    if any(called for _, called in outcomes):
        return f"now {place}"
    if main.ts:
        return f"already posted {place}; nothing new to post (--fresh posts it again)"
    reasons = {config.skip_reason(event) for event, _ in outcomes} - {""}
    return "not posted: " + ("; ".join(sorted(reasons)) or "nothing to post yet")


def report_failures(failures: Sequence[DeliveryError], config: Config) -> int:
    """One line per distinct failure (a revoked token fails every post the same way)."""
    counts: dict[str, int] = {}
    for line in _lines(failures, config):
        counts[line] = counts.get(line, 0) + 1
    for line, count in counts.items():
        suffix = f" ({count} notifications not delivered)" if count > 1 else ""
        print(f"deploybot: {line}{suffix}", file=sys.stderr)
    return explain.EXIT_PROBLEM if failures else explain.EXIT_OK


def _lines(failures: Sequence[Any], config: Config) -> Iterator[str]:
    for failure in failures:
        code, channel = getattr(failure, "code", ""), getattr(failure, "channel", "")
        if not code:  # not Slack's answer: another delivery busy with the message, and such
            yield f"{failure}: send again in a minute"
            continue
        yield explain.slack_error(
            code, channel, api_url=config.slack_api_url, webhook=channel == WEBHOOK_CHANNEL
        )
