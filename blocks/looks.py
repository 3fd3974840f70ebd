"""How each status looks in Slack: one table, no scattered ifs."""

from __future__ import annotations

from typing import NamedTuple

from bot.domain.model import Status


class Look(NamedTuple):
    """The emoji and the words a status is shown with."""

    emoji: str
    words: str


LOOKS: dict[Status, Look] = {
    Status.CREATED: Look(":hourglass_flowing_sand:", "created"),
    Status.STARTED: Look(":arrow_forward:", "started"),
    Status.IN_PROGRESS: Look(":arrows_counterclockwise:", "in progress"),
    Status.READY: Look(":large_blue_circle:", "ready for traffic"),
    Status.RESUMED: Look(":arrow_forward:", "resumed"),
    Status.STOPPING: Look(":octagonal_sign:", "stopping"),
    Status.SUCCEEDED: Look(":white_check_mark:", "succeeded"),
    Status.FAILED: Look(":x:", "failed"),
    Status.STOPPED: Look(":octagonal_sign:", "stopped"),
    Status.SUPERSEDED: Look(":fast_forward:", "superseded"),
    Status.CANCELED: Look(":no_entry_sign:", "canceled"),
    Status.ABANDONED: Look(":warning:", "abandoned"),
    Status.SKIPPED: Look(":next_track_button:", "skipped"),
    Status.UNKNOWN: Look(":grey_question:", "reported an unknown status"),
}

APPROVAL_LOOK = Look(":raised_hand:", "needs approval")
