"""One production write at a time per environment: the store record that claims it. Pure.

Every action that changes production from Slack (a rollback today; approvals, traffic shifts and
freezes later) claims its environment (a pipeline, a deployment group) in the store before its
one AWS write, and records there what AWS answered. Nothing here is specific to an action: the
record says which action, who, which click, the idempotency token sent (where the API takes
one), what AWS started and where to see it.

A claim holds its environment while something may still run: while the write is being sent,
once AWS started something (until reading AWS shows it finished), and while the outcome is
unknown (the answer was lost). A claim still "sending" after SENDING_SECONDS lost its run (a
crash, a Lambda timeout): it counts as unknown. An unknown claim is resolved only by reading
AWS, or cleared by a person who checked; never by sending the write again blindly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

SENDING = "sending"  # claimed; the write is being sent
STARTED = "started"  # AWS accepted it: `outcome` names what it started
FAILED = "failed"  # AWS refused it: nothing started
UNKNOWN = "unknown"  # the answer was lost: it may have started
RELEASED = "released"  # what it started is over, nothing started after all, or a person cleared it

# Longer than one run of a lazy listener (the function's timeout is 30 s): a claim of the same
# click younger than this may still be in its first run's hands.
RUN_SECONDS = 40.0
# Longer than any run of a lazy listener and its first retry by Lambda, with a margin.
SENDING_SECONDS = 120.0
# How long after a write a read may still miss what it started (AWS lists are eventually
# consistent); before that, "not found" does not prove "not started".
SETTLE_SECONDS = 60.0

# What a click may do, given the claim on its environment (`verdict`).
FREE = "free"  # nothing holds it: claim it
RERUN = "rerun"  # this very click ran before and its outcome is recorded: do nothing again
RESUME = "resume"  # this very click ran before and its outcome is unknown: read, then go on
BUSY = "busy"  # another click is sending its write right now
RESOLVE = "resolve"  # another click's write started something, or may have: read AWS first


@dataclass(frozen=True, slots=True)
class Claim:
    """The store's record of the latest write to one environment."""

    action: str  # "rollback", later "approve", "freeze", ...
    user: str  # Slack user id of the clicker
    request: str  # the click (user and action_ts): a re-run of its listener has the same
    at: float  # when it was claimed (epoch seconds)
    state: str = SENDING
    token: str = ""  # the idempotency token sent with the write, where the API takes one
    subject: str = ""  # what the action acts on, in its own terms (a target execution, ...)
    outcome: str = ""  # the id of what AWS started (an execution, a deployment)
    link: str = ""  # where to see it
    note: str = ""  # why it failed, who cleared it
    facts: Mapping[str, str] = field(default_factory=dict)  # what the action needs to resolve it

    def state_at(self, now: float) -> str:
        """The state, with a claim stuck in "sending" past SENDING_SECONDS counted as unknown."""
        if self.state == SENDING and now - self.at > SENDING_SECONDS:
            return UNKNOWN
        return self.state

    def holds(self, now: float) -> bool:
        """True while something may run because of this claim."""
        return self.state_at(now) in (SENDING, STARTED, UNKNOWN)

    def settled(self, now: float) -> bool:
        """True once a read that finds nothing proves that nothing started."""
        return now - self.at > SETTLE_SECONDS


def claim_key(environment: str) -> str:
    """The store key of the claim on `environment` ("pipeline:web-prod", "group:app/prod")."""
    return f"claim#{environment}"


def verdict(claim: Claim | None, request: str, now: float) -> str:
    """What a click (`request`) may do given the claim on its environment."""
    if claim is None or (not claim.holds(now) and claim.request != request):
        return FREE
    state = claim.state_at(now)
    if claim.request == request:
        if state == SENDING and now - claim.at <= RUN_SECONDS:
            return RERUN  # a second delivery of this click while its first run still sends
        return RESUME if state in (SENDING, UNKNOWN) else RERUN
    if state == SENDING:
        return BUSY
    return RESOLVE


def started(claim: Claim, outcome: str, link: str = "") -> Claim:
    """AWS started `outcome`."""
    return replace(claim, state=STARTED, outcome=outcome, link=link or claim.link)


def failed(claim: Claim, note: str) -> Claim:
    """AWS refused the write: nothing started (unless another run of the click started it)."""
    return claim if claim.state == STARTED else replace(claim, state=FAILED, note=note)


def unknown(claim: Claim, note: str) -> Claim:
    """The answer was lost: something may have started (an outcome already known stays)."""
    if claim.state not in (SENDING, UNKNOWN):
        return claim
    return replace(claim, state=UNKNOWN, note=note)


def released(claim: Claim, note: str) -> Claim:
    """Nothing runs because of this claim any more."""
    return replace(claim, state=RELEASED, note=note)


def load_claim(body: str) -> Claim | None:
    """The claim a store record holds, or None when it holds none (or not one of these)."""
    try:
        data = json.loads(body)
        return Claim(**data) if data else None
    except (ValueError, TypeError):
        return None


def dump_claim(claim: Claim) -> str:
    """The store record body of `claim`."""
    data = asdict(claim)
    data["facts"] = dict(claim.facts)
    return json.dumps(data, separators=(",", ":"), sort_keys=True)
