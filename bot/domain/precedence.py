"""Which of two reports of one run (or of one part of it) stands. Pure.

One rule for living messages and the ledger, so that they never disagree: a final state beats
a running one; then the later report beats the earlier (a failed execution that was retried
and then succeeded is succeeded); then the further state; then any fixed rule, so that the
order in which events arrive never matters.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.domain.codec import dump_event
from bot.domain.model import Deployment, Status

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Among non-final states of one part, the later one wins; at equal times, the further along.
RANK = {
    Status.UNKNOWN: 0,
    Status.CREATED: 1,
    Status.STARTED: 2,
    Status.RESUMED: 3,
    Status.IN_PROGRESS: 4,
    Status.READY: 5,
    Status.STOPPING: 6,
    Status.SKIPPED: 7,
    Status.SUCCEEDED: 8,
    Status.SUPERSEDED: 9,
    Status.CANCELED: 10,
    Status.STOPPED: 11,
    Status.ABANDONED: 12,
    Status.FAILED: 13,
}


def reported_at(event: Deployment) -> datetime | None:
    """When the event says its state held: AWS's time of the notification, else its times."""
    return event.occurred_at or event.finished_at or event.started_at


def when(event: Deployment) -> datetime:
    """`reported_at`, or 1970 for an event without any time."""
    return reported_at(event) or EPOCH


def precedence(status: Status, at: datetime | None) -> tuple[bool, datetime, int]:
    """Final beats non-final; then later beats earlier; then further along."""
    return (status.is_final, at or EPOCH, RANK[status])


def order(event: Deployment) -> tuple[bool, datetime, int, str]:
    """`precedence` of the event, then any fixed rule (its JSON) between equals."""
    tie = json.dumps(dump_event(event), sort_keys=True)
    return (*precedence(event.status, when(event)), tie)
