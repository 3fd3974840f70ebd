"""What to post for each notification: which message, in which channel, with which metadata. Pure.

Above bot/domain (what happened, what the config says) and blocks/ (how it looks), below the
doors that deliver it (handlers/notifications.py, handlers/living.py): the noise policy, the
channel, the message of a lone event or of a living message's slots, and the metadata that
finds a post again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from blocks.actions import Block
from blocks.approvals import approval_buttons, approval_text
from blocks.deployment import build_message
from blocks.ids import METADATA_EVENT_TYPE
from blocks.living import (
    build_failure_reply,
    build_living_message,
    build_moved_message,
    build_stuck_reply,
    progress_text,
)
from blocks.release import release_line
from blocks.traffic import traffic_buttons, waiting_text
from bot.domain.approvals import answerable, pending
from bot.domain.config import Config
from bot.domain.living import MAIN, REPLY, STUCK, Slot, State, kind_of
from bot.domain.model import Deployment, View
from bot.domain.rollback import target_for
from bot.domain.traffic import steerable


@dataclass(frozen=True, slots=True)
class Planned:
    """One event and what becomes of it: a chat.postMessage argument object, or a skip reason."""

    event: Deployment
    message: dict[str, Any] | None
    skip_reason: str = ""


def plan(events: Iterable[Deployment], config: Config) -> list[Planned]:
    """Apply the noise policy and render what is posted, one message per event."""
    planned = []
    for event in events:
        reason = config.skip_reason(event)
        planned.append(
            Planned(event, None, reason) if reason else Planned(event, build_post(event, config))
        )
    return planned


def build_post(event: Deployment, config: Config, **payload: str) -> dict[str, Any]:
    """The chat.postMessage arguments for one event: channel, text, blocks and metadata."""
    event = config.named(event)
    message = build_message(
        event,
        site_url=config.site_for(event),
        mentions=config.failure_mentions,
        rollback=target_for(event, config.rollback),
        commits_shown=config.release.commits_shown,
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


def living_targets(
    key: str, state: State, view: View, config: Config, *, editable: bool
) -> dict[str, dict[str, Any]]:
    """The messages a living message's `state` implies, as chat.postMessage arguments, by slot.

    `editable` is False for an incoming webhook: its posts cannot be updated, so an execution or
    deployment is posted once, when its outcome is known.
    """
    if all(config.skip_reason(e) for e in state.events.values()):
        return {}  # the noise policy lets no event of this key start a message
    view = replace(view, head=config.named(view.head))  # messages name the account
    main = state.slots.get(MAIN, Slot())
    channel = main.channel or config.channel_for(view.head)
    payload = {"key": key, "slot": MAIN}
    if kind_of(key) == "event":
        return {MAIN: {**build_post(view.head, config, **payload), "channel": channel}}
    if state.moved_to:
        execution_id = state.moved_to.split("#", 1)[1]
        moved = build_moved_message(view, execution_id=execution_id, link_url=state.moved_link)
        return {MAIN: post_arguments(view.head, channel, moved, **payload)} if main.ts else {}
    rollback = target_for(view.head, config.rollback)
    site = config.site_for(view.head)
    if not editable:
        if not view.head.status.is_final:
            return {}
        message = build_message(
            view.head,
            site_url=site,
            mentions=config.failure_mentions,
            progress=progress_text(view),
            rollback=rollback,
            commits_shown=config.release.commits_shown,
            panels=_panels(view),
        )
        return {MAIN: post_arguments(view.head, channel, message, **payload)}
    living = build_living_message(
        view,
        site_url=site,
        rollback=rollback,
        commits_shown=config.release.commits_shown,
        panels=_panels(view, key, config),
        controls=_controls(key, view, config),
    )
    targets = {MAIN: post_arguments(view.head, channel, living, **payload)}
    return {**targets, **_replies(key, state, view, config)} if main.ts else targets


def _replies(key: str, state: State, view: View, config: Config) -> dict[str, dict[str, Any]]:
    """The thread replies of a posted living message: why it failed, what a stuck run waits on."""
    main = state.slots[MAIN]
    replies: dict[str, dict[str, Any]] = {}
    if view.head.status.is_failure and view.failures:
        reply = build_failure_reply(view, mentions=config.failure_mentions)
        replies[REPLY] = {
            **post_arguments(view.head, main.channel, reply, key=key, slot=REPLY),
            "thread_ts": main.ts,
            "reply_broadcast": True,
        }
    if state.stuck and not view.head.status.is_final:
        stuck = build_stuck_reply(view, note=state.stuck)
        replies[STUCK] = {
            **post_arguments(view.head, main.channel, stuck, key=key, slot=STUCK),
            "thread_ts": main.ts,
        }
    return replies


def _panels(view: View, key: str = "", config: Config | None = None) -> tuple[str, ...]:
    """What waits for a person in a living message: its approvals (with the release they let
    through, as the release diff tells it), its waiting deployments. With `key` and `config`
    (a message that can have buttons), an approval the config lets people answer but no
    button can name says to answer it in the console."""
    diff = view.head.diff
    release = release_line(diff, mention=False) if diff is not None else ""
    return (
        *(
            approval_text(a, release, in_console=_in_console(key, a, config))
            for a in view.approvals
        ),
        *(waiting_text(d) for d in view.waiting),
    )


def _in_console(key: str, approval: Deployment, config: Config | None) -> bool:
    if config is None or not config.approvals.policy_for(approval.pipeline).anyone:
        return False
    return pending(approval) and not answerable(key, approval)


def _controls(key: str, view: View, config: Config) -> tuple[Block, ...]:
    """The buttons of what waits, where the config lets someone press them."""
    buttons: list[Block] = []
    for approval in view.approvals:
        if config.approvals.policy_for(approval.pipeline).anyone:
            buttons.extend(approval_buttons(key, approval))
    for deployment in view.waiting:
        if steerable(deployment, config.rollback, view.head.pipeline):
            buttons.extend(traffic_buttons(deployment))
    return tuple(buttons)


def describe(event: Deployment) -> str:
    """The event in a few words, for logs."""
    names = [event.pipeline, event.application, event.deployment_group, event.deployment_id]
    return f"{event.scope.value} {event.status.value} " + "/".join(n for n in names if n)


def log_keys(event: Deployment) -> Mapping[str, str]:
    """The ids a log line about this event carries as structured keys."""
    return {
        "deployment_id": event.deployment_id,
        "pipeline": event.pipeline,
        "pipeline_execution_id": event.execution_id,
        "event_id": event.event_id,
    }
