"""Living messages: fold each notification into its message's state, then bring Slack in line.

Per key (a pipeline execution, a deployment, an approval, a lone event) the store holds every
state transition seen, the event ids already folded in, and the Slack messages made for it (the
main message and the failure reply), each with a lease. Only the lease holder calls Slack for a
message, so concurrent invocations neither post it twice nor overwrite a newer update with an
older one; a holder that dies leaves a lease that expires.

A post is claimed in the store before it is made and recorded after. If the recording is lost
(crash, timeout), the next attempt finds the message in conversations.history by its metadata
(key and slot) instead of posting it again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.domain.config import Config
from bot.domain.living import (
    MAIN,
    Slot,
    State,
    absorb,
    build_view,
    digest,
    dump_state,
    kind_of,
    link_key,
    load_state,
    message_key,
    next_step,
    sweep_position,
    with_slot,
    with_sweep,
)
from bot.domain.model import Deployment, Scope
from bot.domain.rollback import load_request, run_key
from bot.plan import describe, living_targets, log_keys
from bot.slack import (
    SEARCH_MARGIN_SECONDS,
    DeliveryError,
    Editor,
    Linker,
    MessageGone,
    MessageRef,
    Poster,
)
from bot.store import Record, Store, StoreError

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 25  # concurrent writers on one key retry their conditional write this often
MAX_STEPS = 12  # Slack calls per event at most: post, reply, and updates racing new events
LEASE_SECONDS = 60.0  # longer than one Slack call with its retries takes
WAIT_SECONDS = 8.0  # how long to wait for another invocation's lease before giving up
POLL_SECONDS = 0.2


class Busy(DeliveryError):
    """Another invocation holds the message's lease; Lambda's retry will finish the work."""


class LivingDelivery:
    """Delivers notifications as living messages through one poster and one store."""

    def __init__(
        self,
        config: Config,
        poster: Poster,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float = LEASE_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self._config = config
        self._poster = poster
        self._editor = poster if isinstance(poster, Editor) else None
        self._linker = poster if isinstance(poster, Linker) else None
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._lease = lease_seconds
        self._wait = wait_seconds
        self._owner = uuid.uuid4().hex  # this invocation, as a lease holder
        self._called = False  # whether Slack was called for the event being delivered

    def deliver(self, event: Deployment) -> bool:
        """Fold `event` in and sync its message; True when Slack was called.

        Raises StoreError before any Slack call (the caller may then post without the store),
        DeliveryError when Slack failed (the caller raises so that Lambda retries).
        """
        event = self._with_request(event)
        key = self._key(event)
        keys = dict(log_keys(event))
        if self._fold(key, event):
            logger.info("folded %s into %s", describe(event), key, extra=keys)
            reason = self._config.skip_reason(event)
            if reason:  # kept in the state, but it starts no message by itself
                logger.info("skipped %s: %s", describe(event), reason, extra=keys)
        else:
            logger.info("duplicate %s for %s: nothing new", describe(event), key, extra=keys)
        orphan, execution = self._orphan(event, key)
        called = self.sync(key)
        if orphan:
            # The deployment got a message of its own before its execution was known: fold it
            # into the execution's message now that this event names the execution.
            called = self.fold_orphan(orphan, execution) or called
        return called

    def _orphan(self, event: Deployment, key: str) -> tuple[str, str]:
        """(a deployment's own message, its execution's) when this event joins the two."""
        if event.scope is Scope.ACTION and event.deployment_id and kind_of(key) == "execution":
            linked = self._link(event.deployment_id, key)
            return (linked, key) if kind_of(linked) == "deployment" else ("", "")
        wanted = message_key(event)
        if kind_of(key) == "deployment" and kind_of(wanted) == "execution":
            return key, wanted
        return "", ""

    def sync(self, key: str) -> bool:
        """Bring the messages of `key` to what its state implies; True when Slack was called.

        Raises StoreError before any Slack call, DeliveryError when Slack failed.
        """
        self._called = False
        deadline = self._clock() + self._wait
        # Waiting for another invocation's lease takes turns too; it ends in Busy at `deadline`.
        for _ in range(MAX_STEPS + int(self._wait / POLL_SECONDS)):
            try:
                done = self._step(key, deadline)
            except StoreError:
                if not self._called:
                    raise
                # Slack has the news already; a later delivery repairs the record by search.
                logger.exception("store failed after a Slack call for %s", key)
                return True
            if done:
                return self._called
        raise DeliveryError(f"{key}: messages still changing after {MAX_STEPS} steps")

    def fold_orphan(self, orphan: str, execution: str) -> bool:
        """Fold a deployment's own message into its execution's; the first says where it went.

        Nothing happens until the execution's message is in Slack (the sweep tries again
        later). True when Slack was called.
        """
        _, state = self._read(orphan)
        target_main = self._read(execution)[1].slots.get(MAIN, Slot())
        if state.moved_to or not state.events or not target_main.ts:
            return False
        execution_id = execution.split("#", 1)[1]
        deployment_ids = {e.deployment_id for e in state.events.values() if e.deployment_id}
        for deployment_id in deployment_ids:
            self._relink(deployment_id, execution)
        for event in state.events.values():
            self._fold(execution, replace(event, execution_id=execution_id))
        called = self.sync(execution)
        url = self._permalink(MessageRef(target_main.channel, target_main.ts))
        self.change(orphan, lambda s: replace(s, moved_to=execution, moved_link=url, due=0.0))
        logger.info("folded the message of %s into %s", orphan, execution)
        return self.sync(orphan) or called

    def heal(self, key: str, events: list[Deployment]) -> bool:
        """Fold what the sweep read from AWS into `key`, then bring Slack in line once."""
        for event in events:
            self._fold(key, event)
        return self.sync(key)

    def change(self, key: str, change: Callable[[State], State | None]) -> State | None:
        """Apply `change` to a key's state with compare-and-swap (None: no write)."""
        for _ in range(CAS_ATTEMPTS):
            record, state = self._read(key)
            changed = change(state)
            if changed is None or self._write(record, changed):
                return changed
        raise StoreError(f"could not change the state of {key}: too much contention")

    def _permalink(self, ref: MessageRef) -> str:
        if self._linker is None:
            return ""
        try:
            return self._linker.permalink(ref)
        except DeliveryError:
            logger.warning(
                "no permalink for %s in %s: the moved message names no link", ref.ts, ref.channel
            )
            return ""

    # --- the store side ----------------------------------------------------------------------

    def _read(self, key: str) -> tuple[Record, State]:
        record = self._store.get(key) or Record(key)
        return record, load_state(record.body)

    def _write(self, record: Record, state: State) -> bool:
        listed = sweep_position(record.key, state)
        return self._store.put(replace(record, body=dump_state(state), listed=listed))

    def _with_request(self, event: Deployment) -> Deployment:
        """The event, marked as a rollback if deploybot started its run from Slack."""
        run_id = event.execution_id or event.deployment_id
        if event.requested or not run_id or not self._config.rollback.enabled:
            return event
        record = self._store.get(run_key(run_id))
        requested = load_request(record.body) if record else None
        return replace(event, requested=requested) if requested else event

    def _key(self, event: Deployment) -> str:
        key = message_key(event)
        if event.scope in (Scope.DEPLOYMENT, Scope.INSTANCE) and event.deployment_id:
            return self._link(event.deployment_id, key)
        return key

    def _relink(self, deployment_id: str, key: str) -> None:
        """From now on the deployment's events go to `key`."""
        for _ in range(CAS_ATTEMPTS):
            record, state = self._read(link_key(deployment_id))
            if state.link == key or self._write(record, State(link=key)):
                return
        raise StoreError(f"could not link {deployment_id}: too much contention")

    def _link(self, deployment_id: str, key: str) -> str:
        """Where the deployment's events go: the first message to claim it keeps it."""
        for _ in range(CAS_ATTEMPTS):
            record, state = self._read(link_key(deployment_id))
            if state.link:
                return state.link
            if self._write(record, State(link=key)):
                return key
        raise StoreError(f"could not link {deployment_id}: too much contention")

    def _fold(self, key: str, event: Deployment) -> bool:
        after = self._config.sweep.after_minutes * 60
        for _ in range(CAS_ATTEMPTS):
            record, state = self._read(key)
            folded = absorb(state, event)
            if folded is None:
                return False
            if self._write(record, with_sweep(key, folded, self._clock(), after)):
                return True
        raise StoreError(f"could not record an event for {key}: too much contention")

    def _change_slot(self, key: str, name: str, change: Callable[[Slot], Slot | None]) -> None:
        """Apply `change` to a slot with compare-and-swap; `change` returning None skips it."""
        for _ in range(CAS_ATTEMPTS):
            record, state = self._read(key)
            changed = change(state.slots.get(name, Slot()))
            if changed is None or self._write(record, with_slot(state, name, changed)):
                return
        raise StoreError(f"could not update the {name} message record of {key}")

    # --- the Slack side ----------------------------------------------------------------------

    def _step(self, key: str, deadline: float) -> bool:
        """Take the next step for `key`; True when there is none left."""
        record, state = self._read(key)
        if not state.events:
            return True
        view = build_view(key, state.events.values())
        targets = living_targets(key, state, view, self._config, editable=self._editor is not None)
        step = next_step(state, targets, editable=self._editor is not None)
        if step is None:
            return True
        slot = state.slots.get(step.slot, Slot())
        now = self._clock()
        if slot.owner and slot.owner != self._owner and now - slot.claimed_at < self._lease:
            if now > deadline:
                raise Busy(f"another invocation is writing the {step.slot} message of {key}")
            self._sleep(POLL_SECONDS)
            return False
        if step.action == "post" and slot.since and self._adopt(key, step.slot, slot, targets):
            return False
        claimed = replace(
            slot,
            owner=self._owner,
            claimed_at=now,
            since=(slot.since or now) if step.action == "post" else 0.0,
        )
        if not self._write(record, with_slot(state, step.slot, claimed)):
            return False  # someone else wrote first: look again
        message = targets[step.slot]
        self._called = True
        try:
            if step.action == "post":
                ref = self._poster.post(dict(message))
                self._posted(key, step.slot, ref, message)
            else:
                self._updated(key, step.slot, slot, message)
        except DeliveryError:
            self._release(key, step.slot)
            raise
        logger.info("%s %s message of %s (%s)", step.action, step.slot, key, step.reason)
        return False

    def _adopt(self, key: str, name: str, slot: Slot, targets: dict[str, dict[str, Any]]) -> bool:
        """After an attempt whose outcome is unknown, take the message it made if it exists."""
        if self._editor is None:
            logger.warning("an earlier post of %s may have got through: a webhook cannot tell", key)
            return False
        channel = slot.channel or str(targets[name]["channel"])
        found = self._editor.find(channel, key, name, slot.since - SEARCH_MARGIN_SECONDS)
        if found is None:
            return False
        logger.info("found the %s message of %s that an earlier attempt posted", name, key)
        self._change_slot(key, name, lambda s: Slot(channel=found.channel, ts=found.ts))
        return True

    def _posted(self, key: str, name: str, ref: MessageRef | None, message: dict[str, Any]) -> None:
        posted = Slot(
            channel=ref.channel if ref else str(message["channel"]),
            ts=ref.ts if ref else "webhook",  # webhooks give no ts: remember that it went out
            digest=digest(message),
        )

        def record(slot: Slot) -> Slot | None:
            if slot.ts and slot.ts != posted.ts:
                logger.error("%s: a second %s message was posted (lease expired)", key, name)
                return None
            return posted

        self._change_slot(key, name, record)

    def _updated(self, key: str, name: str, slot: Slot, message: dict[str, Any]) -> None:
        assert self._editor is not None
        try:
            self._editor.update(MessageRef(slot.channel, slot.ts), dict(message))
        except MessageGone:
            logger.warning("the %s message of %s is gone; posting it again", name, key)
            self._change_slot(key, name, lambda s: Slot() if s.ts == slot.ts else None)
            return
        shown = digest(message)
        self._change_slot(
            key,
            name,
            lambda s: (
                replace(s, digest=shown, owner="", claimed_at=0.0) if s.ts == slot.ts else None
            ),
        )

    def _release(self, key: str, name: str) -> None:
        """Give the lease up at once after a failure, so a retry need not wait for it."""
        try:
            self._change_slot(
                key,
                name,
                lambda s: replace(s, claimed_at=0.0) if s.owner == self._owner else None,
            )
        except StoreError:
            logger.exception("could not release the %s lease of %s; it will expire", name, key)
