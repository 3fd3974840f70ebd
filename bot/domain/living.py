"""One living message per pipeline execution or deployment: keys, state, views, next step. Pure.

Every notification is folded into the stored state of its message; the message is then brought
to what the state implies. Folding is order-independent (each part of an execution keeps its
latest state, and a final state is never replaced by a non-final one), so shuffled and repeated
deliveries converge on the same message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from bot.domain import approvals
from bot.domain.codec import dump_event, load_event
from bot.domain.model import (
    Approval,
    Commit,
    Deployment,
    Scope,
    Source,
    StageProgress,
    Status,
    View,
)
from bot.domain.people import first_starter
from bot.domain.precedence import EPOCH as _EPOCH
from bot.domain.precedence import order as _order
from bot.domain.precedence import when as _when
from bot.domain.release import best_diff

MAIN = "main"
REPLY = "reply"
STUCK = "stuck"  # the thread reply saying what a run that takes too long waits on
SWEEP = "sweep"  # the store list of messages the sweep looks at, by when they are due
HEALED = "sweep:"  # event ids of states the sweep read from AWS after an event was lost
ORPHAN_CHECKS = 3  # times the sweep looks for the execution of a deployment message
SEEN_MAX = 500  # event ids remembered per message: far more than one execution sends
EVENTS_MAX = 150  # state transitions kept per message: keeps a DynamoDB item well under 400 KB

_SCOPE_ORDER = {scope: i for i, scope in enumerate(Scope)}
Parts = Mapping[tuple[str, ...], Deployment]


def position(when: float, key: str) -> str:
    """A store list position that sorts by time (whole seconds since 1970), then by key."""
    return f"{max(int(when), 0):012d}#{key}"  # the latest event of each part, by part


# --- keys ------------------------------------------------------------------------------------


def message_key(event: Deployment) -> str:
    """The key of the message an event belongs to, before deployment links are followed."""
    if event.scope in (Scope.PIPELINE, Scope.STAGE, Scope.ACTION) and event.execution_id:
        return f"execution#{event.execution_id}"
    if event.scope in (Scope.DEPLOYMENT, Scope.INSTANCE) and event.deployment_id:
        if event.execution_id:  # enrichment found the execution that made this deployment
            return f"execution#{event.execution_id}"
        return f"deployment#{event.deployment_id}"
    if event.scope is Scope.APPROVAL and event.execution_id:
        return f"execution#{event.execution_id}"  # an approval is part of its execution
    if event.scope is Scope.APPROVAL and event.approval and event.approval.token:
        # The approval action's own SNS message names no execution (enrichment looks it up):
        # one message per request, named by a digest of its token (never the token itself).
        where = [event.pipeline, event.stage, event.action, event.approval.token]
        return f"approval#{_digest(where)}"
    return f"event#{event.event_id or _digest(dump_event(event))}"


def link_key(deployment_id: str) -> str:
    """Where the store says which message a CodeDeploy deployment's events go to."""
    return f"link#{deployment_id}"


def kind_of(key: str) -> str:
    """ "execution", "deployment", "approval" or "event"."""
    return key.split("#", 1)[0]


def transition(event: Deployment) -> str:
    """One part of the work and one state: a second delivery of it is a duplicate."""
    match event.scope:
        case Scope.PIPELINE:
            part: tuple[str, ...] = ("pipeline",)
        case Scope.STAGE:
            part = ("stage", event.stage)
        case Scope.ACTION:
            part = ("action", event.stage, event.action)
        case Scope.APPROVAL:
            part = (_approval_part(event.approval), event.stage, event.action)
        case Scope.DEPLOYMENT:
            part = ("deployment", event.deployment_id)
        case Scope.INSTANCE:
            part = ("instance", event.deployment_id, event.instance_id)
        case _:
            part = ("event", event.event_id)
    state = event.status.value
    if event.status is Status.UNKNOWN:
        state += ":" + event.raw_status
    return json.dumps([*part, state])


def _approval_part(approval: Approval | None) -> str:
    """Which part of a manual approval an event tells: the answer given from Slack, the request
    (the approval action's own SNS message: its token, expiry, link, custom data), or the
    action's state (CodePipeline's notification rules and EventBridge events)."""
    if approval is not None and approval.decision:
        return "decision"
    if approval is not None and approval.token:
        return "request"
    return "action"


_APPROVAL_PARTS = ("request", "decision")  # no stage progress, no failure of their own


def _part(transition_key: str) -> tuple[str, ...]:
    return tuple(json.loads(transition_key)[:-1])


# --- stored state ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A message deploybot posts for a key (the main message, or the failure reply)."""

    channel: str = ""
    ts: str = ""
    digest: str = ""  # of what Slack shows now, so an unchanged message is not updated
    owner: str = ""  # the invocation that claimed the right to post it
    claimed_at: float = 0.0  # 0 once the owner gave up: the claim is then stale at once
    since: float = 0.0  # when the first attempt to post began: where a search for it starts


@dataclass(frozen=True, slots=True)
class State:
    """What the store keeps per key."""

    events: Mapping[str, Deployment] = field(default_factory=dict)  # by transition
    seen: tuple[str, ...] = ()  # event ids (SNS MessageId, EventBridge id) already folded in
    slots: Mapping[str, Slot] = field(default_factory=dict)
    link: str = ""  # on link records: the key a deployment's events go to
    due: float = 0.0  # when the sweep looks at this message next (0: never again)
    checks: int = 0  # how often the sweep looked for a deployment message's execution
    stuck: str = ""  # what a run that takes too long waits on (the sweep's words)
    moved_to: str = ""  # the execution message a deployment message was folded into
    moved_link: str = ""  # that message's permalink


def load_state(body: str) -> State:
    """The state stored as JSON text."""
    data: dict[str, Any] = json.loads(body)
    return State(
        events={k: load_event(v) for k, v in data.get("events", {}).items()},
        seen=tuple(data.get("seen", ())),
        slots={k: Slot(**v) for k, v in data.get("slots", {}).items()},
        **{k: data[k] for k in _SCALARS if k in data},
    )


def dump_state(state: State) -> str:
    """The state as compact JSON text."""
    data: dict[str, Any] = {}
    if state.events:
        data["events"] = {k: dump_event(v) for k, v in state.events.items()}
    if state.seen:
        data["seen"] = list(state.seen)
    if state.slots:
        data["slots"] = {
            name: {k: getattr(slot, k) for k in Slot.__slots__ if getattr(slot, k)}
            for name, slot in state.slots.items()
        }
    data.update({k: getattr(state, k) for k in _SCALARS if getattr(state, k)})
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


_SCALARS = ("link", "due", "checks", "stuck", "moved_to", "moved_link")


def with_slot(state: State, name: str, slot: Slot) -> State:
    """`state` with one slot replaced."""
    return replace(state, slots={**state.slots, name: slot})


def absorb(state: State, event: Deployment) -> State | None:
    """`state` with `event` folded in, or None when the event adds nothing (a duplicate)."""
    if event.event_id and event.event_id in state.seen:
        return None
    key = transition(event)
    old = state.events.get(key)
    full = old is None and len(state.events) >= EVENTS_MAX  # the message shows plenty already
    # The final state the sweep read from AWS stands: the lost event arriving later changes
    # nothing (its times may differ a little, and the message was brought up to date once).
    healed = old is not None and old.event_id.startswith(HEALED)
    events = state.events
    if not full and not healed and (old is None or _order(event) > _order(old)):
        events = {**state.events, key: event}
    seen = (*state.seen, event.event_id)[-SEEN_MAX:] if event.event_id else state.seen
    if events is state.events and seen == state.seen:
        return None
    return replace(state, events=events, seen=seen)


def with_sweep(key: str, state: State, now: float, after: float) -> State:
    """`state` with when the sweep must look at it: `after` seconds from its first event on,
    while its run is not final (or, for a deployment message, its execution may still be
    found), or while an approval of it waits (its reminders); never for lone events."""
    if not state.events or not wants_sweep(key, state, now):
        return replace(state, due=0.0) if state.due else state
    return state if state.due else replace(state, due=now + after)


def wants_sweep(key: str, state: State, now: float) -> bool:
    """True while the sweep has something to check on this message at `now`."""
    kind = kind_of(key)
    if kind not in ("execution", "deployment", "approval") or state.moved_to or not state.events:
        return False
    view = build_view(key, state.events.values())
    moment = datetime.fromtimestamp(now, UTC)
    if any(approvals.waiting(a, moment) for a in view.approvals):
        return True  # the sweep sends its reminders, in an execution's message or its own
    if kind == "approval":
        return False
    if not view.head.status.is_final:
        return True
    return kind == "deployment" and state.checks < ORPHAN_CHECKS


def healed(key: str, state: State, truth: Deployment) -> list[Deployment]:
    """The events that bring `key` to `truth`, the run's final state as AWS reports it.

    An execution that succeeded ran every stage and action to success, so its parts still shown
    running are healed too: the lost events arriving later then change nothing.
    """
    events = [truth]
    if kind_of(key) == "execution" and truth.status is Status.SUCCEEDED:
        latest: dict[tuple[str, ...], Deployment] = {}
        for event in state.events.values():
            part = _part(transition(event))
            if part[0] in ("stage", "action") and (
                part not in latest or _order(event) > _order(latest[part])
            ):
                latest[part] = event
        for part, event in sorted(latest.items()):
            if not event.status.is_final:
                events.append(
                    replace(
                        event,
                        status=Status.SUCCEEDED,
                        raw_status=Status.SUCCEEDED.value,
                        event_id=f"{truth.event_id}:{':'.join(part)}",
                        occurred_at=truth.occurred_at,
                    )
                )
    return events


def sweep_position(key: str, state: State) -> tuple[str, str] | None:
    """Where the record stands in the sweep's list (by due time), if it is due at all."""
    return (SWEEP, position(state.due, key)) if state.due else None


# --- the view --------------------------------------------------------------------------------


def build_view(key: str, events: Iterable[Deployment]) -> View:
    """What the message of `key` shows, from every state transition stored for it."""
    events = tuple(events)
    latest: dict[tuple[str, ...], Deployment] = {}
    first: dict[tuple[str, ...], datetime] = {}
    for event in events:
        part = _part(transition(event))
        if part not in latest or _order(event) > _order(latest[part]):
            latest[part] = event
        first[part] = min(first.get(part, _when(event)), _when(event))
    if not latest:
        raise ValueError(f"no events for {key}")
    kind = kind_of(key)
    if kind == "execution":
        return _execution_view(key, latest, first, events)
    if kind == "deployment":
        return _deployment_view(latest)
    if kind == "approval":
        approvals = _approvals(events)
        return View(head=approvals[0], approvals=approvals)
    return View(head=max(latest.values(), key=_order))


def _failures(latest: Parts) -> tuple[Deployment, ...]:
    failed = [e for p, e in latest.items() if e.status.is_failure and p[0] not in _APPROVAL_PARTS]
    return tuple(sorted(failed, key=lambda e: (_when(e), _SCOPE_ORDER[e.scope], transition(e))))


def _span(events: Iterable[Deployment], status: Status) -> tuple[datetime | None, datetime | None]:
    times = [_when(e) for e in events if _when(e) != _EPOCH]
    if not times:
        return None, None
    return min(times), (max(times) if status.is_final else None)


def _execution_view(
    key: str,
    latest: Parts,
    first: Mapping[tuple[str, ...], datetime],
    events: Iterable[Deployment],
) -> View:
    status = _execution_status(latest)
    return View(
        head=_execution_head(key, latest, status),
        stages=_stages(latest, first),
        deployments=_unnamed_deployments(latest),
        failures=_failures(latest),
        approvals=_approvals(events),
        waiting=_waiting(latest),
    )


def _waiting(latest: Parts) -> tuple[Deployment, ...]:
    """Blue/green deployments of the execution waiting for a person, by deployment id."""
    waiting = (e for p, e in latest.items() if p[0] == "deployment" and e.waiting)
    return tuple(sorted(waiting, key=lambda e: e.deployment_id))


def _approvals(events: Iterable[Deployment]) -> tuple[Deployment, ...]:
    """Each manual approval with its request, state and answer merged, in the order they came."""
    places: dict[tuple[str, str], list[Deployment]] = {}
    for event in events:
        if event.scope is Scope.APPROVAL:
            places.setdefault((event.stage, event.action), []).append(event)
    order = sorted(places, key=lambda place: (min(map(_when, places[place])), place))
    return tuple(_approval(places[place]) for place in order)


def _asked(event: Deployment) -> bool:
    """True for an event that tells a request began: its own SNS message, a non-final state."""
    part = _approval_part(event.approval)
    return part == "request" or (part == "action" and not event.status.is_final)


def _current(events: list[Deployment]) -> list[Deployment]:
    """The events of the request an approval asks now.

    A retried stage asks again in the same execution (a new request, a new token): what ended
    an earlier request (its final state, an answer from Slack, timed when it was given) is older
    than the latest request's start, so it no longer applies, and neither does anything before
    it. An event without a time (an answer stored before answers were timed) always applies.
    """
    began = max((_when(e) for e in events if _asked(e)), default=_EPOCH)
    ends = [_when(e) for e in events if not _asked(e) and _EPOCH < _when(e) < began]
    cut = max(ends, default=_EPOCH)
    return [e for e in events if _when(e) > cut or _when(e) == _EPOCH]


def _approval(events: list[Deployment]) -> Deployment:
    """One approval as its message shows it: the request it asks now, its state and answer."""
    current = _current(events)
    kinds: dict[str, Deployment] = {}
    for event in current:
        kind = _approval_part(event.approval)
        if kind not in kinds or _order(event) > _order(kinds[kind]):
            kinds[kind] = event
    request, state, decision = (kinds.get(k) for k in ("request", "action", "decision"))
    told = (e.approval for e in (request, state) if e is not None and e.approval is not None)
    asked = next(told, Approval())
    answer = decision.approval if decision and decision.approval else None
    if answer is not None:
        status = Status.SUCCEEDED if answer.decision == "Approved" else Status.FAILED
        asked = replace(
            asked, decision=answer.decision, decided_by=answer.decided_by, reason=answer.reason
        )
    else:
        status = state.status if state is not None else Status.STARTED
    base = next(e for e in (state, request, decision) if e is not None)
    since = min(map(_when, current))
    return replace(
        base,
        scope=Scope.APPROVAL,
        status=status,
        raw_status=status.value,
        event_id="",
        started_at=None if since == _EPOCH else since,
        occurred_at=max(map(_when, current)),
        approval=asked,
    )


def _execution_status(latest: Parts) -> Status:
    """The execution's own final state; else failed as soon as a part failed; else running."""
    pipeline = latest.get(("pipeline",))
    if pipeline is not None and pipeline.status.is_final:
        return pipeline.status
    if any(e.scope is not Scope.PIPELINE for e in _failures(latest)):
        return Status.FAILED  # a failed stage fails its execution; its own event may lag
    if pipeline is not None and (
        len(latest) == 1 or pipeline.status not in (Status.CREATED, Status.STARTED)
    ):
        return pipeline.status
    return Status.IN_PROGRESS


def _stages(latest: Parts, first: Mapping[tuple[str, ...], datetime]) -> tuple[StageProgress, ...]:
    """Each stage with its actions, in the order they started."""
    stages = []
    for name in {part[1] for part in latest if part[0] in ("stage", "action")}:
        stage = latest.get(("stage", name))
        action_parts = sorted(
            (p for p in latest if p[0] == "action" and p[1] == name), key=lambda p: (first[p], p)
        )
        began = min(first[p] for p in (("stage", name), *action_parts) if p in first)
        progress = StageProgress(
            name=name,
            status=stage.status if stage else Status.IN_PROGRESS,
            actions=tuple(latest[p] for p in action_parts),
        )
        stages.append((began, progress))
    return tuple(stage for _, stage in sorted(stages, key=lambda s: (s[0], s[1].name)))


def _unnamed_deployments(latest: Parts) -> tuple[Deployment, ...]:
    """CodeDeploy deployments of the execution that no action event names."""
    named = {e.deployment_id for p, e in latest.items() if p[0] == "action" and e.deployment_id}
    return tuple(
        sorted(
            (e for p, e in latest.items() if p[0] == "deployment" and p[1] not in named),
            key=lambda e: (_when(e), e.deployment_id),
        )
    )


def _execution_head(key: str, latest: Parts, status: Status) -> Deployment:
    """The execution as one event: what every part told of it, with the overall status."""
    pipeline = latest.get(("pipeline",))
    events = latest.values()
    base = pipeline or min(
        (e for e in events if e.source is Source.CODEPIPELINE),
        key=_when,
        default=next(iter(events)),
    )
    started, finished = _span(events, status)
    if pipeline is not None and pipeline.started_at is not None:
        started = pipeline.started_at
    return Deployment(
        source=Source.CODEPIPELINE,
        scope=Scope.PIPELINE,
        status=status,
        raw_status=status.value,
        region=base.region,
        account=base.account,
        pipeline=max((e.pipeline for e in events), default=""),
        execution_id=key.split("#", 1)[1],
        started_at=started,
        finished_at=finished,
        occurred_at=started,
        commit=_best_commit(events),
        trigger=max((e.trigger for e in events), default=""),
        last_good=next((e.last_good for e in events if e.last_good), None),
        requested=next((e.requested for e in events if e.requested), None),
        diff=best_diff(e.diff for e in events),
        started_by=first_starter(events),
    )


def _best_commit(events: Iterable[Deployment]) -> Commit | None:
    commits = [e.commit for e in events if e.commit is not None]
    return max(
        commits,
        key=lambda c: (c.confirmed, bool(c.title), bool(c.author), bool(c.commit_url), c.sha),
        default=None,
    )


def _deployment_view(latest: Parts) -> View:
    deployment = next((e for p, e in latest.items() if p[0] == "deployment"), None)
    sample = deployment or max(latest.values(), key=_order)
    status = deployment.status if deployment else Status.IN_PROGRESS
    started, finished = _span(latest.values(), status)
    head = replace(
        sample,
        source=Source.CODEDEPLOY,
        scope=Scope.DEPLOYMENT,
        status=status,
        raw_status=sample.raw_status if deployment else status.value,
        event_id="",
        instance_id="",
        started_at=sample.started_at if deployment and sample.started_at else started,
        finished_at=sample.finished_at if deployment and sample.finished_at else finished,
        # Why it failed goes to the thread; the message itself says what and where.
        error=None,
        lifecycle_events=(),
        failure_details=(),
        requested=next((e.requested for e in latest.values() if e.requested), None),
        diff=best_diff(e.diff for e in latest.values()),
        started_by=first_starter(latest.values()),
    )
    return View(head=head, failures=_failures(latest), waiting=(head,) if head.waiting else ())


# --- what to do next -------------------------------------------------------------------------


def digest(message: Mapping[str, Any]) -> str:
    """What a message shows, as a short hash; where it is (channel, ts) does not count."""
    shown = {k: v for k, v in message.items() if k not in ("channel", "ts", "thread_ts")}
    return _digest(shown)


def _digest(value: object) -> str:
    raw = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Step:
    """The next Slack call that brings a key's messages to what its state implies."""

    slot: str
    action: Literal["post", "update"]
    reason: str


def next_step(
    state: State, targets: Mapping[str, Mapping[str, Any]], editable: bool
) -> Step | None:
    """Post a message that is due and missing, else update one that shows something else."""
    for name in (MAIN, REPLY, STUCK):
        target = targets.get(name)
        if target is None:
            continue
        slot = state.slots.get(name, Slot())
        if not slot.ts:
            return Step(name, "post", f"no {name} message yet")
        if editable and slot.digest != digest(target):
            return Step(name, "update", f"the {name} message shows an older state")
    return None
