"""What every button that changes production needs, whatever it does: the action framework.

One action (rollback, approve/reject, reroute/finish/stop, freeze/unfreeze) is one `Flow`
subclass in its handler module: its claims' name, its re-check at click time (`prepare`), its
one AWS write (`write`), how an unknown outcome is read back (`find`) and its audit replies;
its button and confirm (or modal) are built in blocks/, its policy section named in the config.
What they share lives here:
- `Click`: who clicked where, and the two ways to answer: privately to the clicker (through the
  interaction's response_url, else chat.postEphemeral once that has expired) and for everyone in
  the clicked message's thread (chat.postMessage with the bot token, which does not expire, so a
  late lazy run still reports what happened).
- `authorization` and `gate`: the config's policy (default deny), with user-group membership
  read from Slack; the store every action needs.
- `Claims`: the claim on an environment in the store (bot/domain/claims.py), taken and updated
  with compare-and-swap, so two clicks can never both hold it.
- `Flow`: the shared flow of one click: the claim decides (a re-run of this click does nothing
  again, another click that is sending wins, one whose outcome is unknown is read back first),
  the action re-checks AWS, the claim is taken, the write is sent once through a client that
  does not retry, and its outcome (started, refused, or unknown and read back) is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.actions import Block, build_refusal, mention
from bot import aws
from bot.aws import AwsError
from bot.aws.accounts import NoLookups, Place, accounts_of
from bot.domain import claims
from bot.domain.claims import Claim, claim_key, dump_claim, load_claim
from bot.domain.config import Config
from bot.domain.model import AwsProblem
from bot.domain.policy import Policy, authorization_refusal, needs_group_lookup
from bot.slack import DeliveryError, make_responder
from bot.store import Record, Store, StoreError

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 5


class Click:
    """One click on an action button: who, where, and the ways to answer."""

    def __init__(self, body: dict[str, Any], client: WebClient) -> None:
        container = body.get("container") or {}
        message = body.get("message") or {}
        user = body.get("user") or {}
        action = (body.get("actions") or [{}])[0]
        self.body = body
        self.client = client
        self.user = str(user.get("id") or "")
        self.user_name = str(user.get("username") or user.get("name") or "")
        self.channel = str(
            (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        )
        self.message_ts = str(container.get("message_ts") or "")
        # A private message (a /deploy-status answer) has no thread: replies go to the channel.
        self.ephemeral = bool(container.get("is_ephemeral"))
        # Replies go to the thread the clicked message is in, or start one under it.
        self.thread_ts = "" if self.ephemeral else str(message.get("thread_ts") or self.message_ts)
        self.message = message
        self.response_url = str(body.get("response_url") or "")
        self.value = str(action.get("value") or "")
        self.action_ts = str(action.get("action_ts") or "")
        self.request = f"{self.user}:{self.action_ts}"

    def private(self, message: dict[str, Any]) -> None:
        """Answer the clicker alone; once the response_url has expired (or without one: a modal's
        submission), with chat.postEphemeral."""
        if self.response_url:
            try:
                make_responder(self.response_url).post(message)
            except DeliveryError:
                logger.warning("the response_url failed; answering with chat.postEphemeral")
            else:
                return
        try:
            self.client.chat_postEphemeral(
                channel=self.channel,
                user=self.user,
                text=str(message.get("text") or ""),
                blocks=message.get("blocks"),
            )
        except SlackApiError:
            logger.exception("could not answer %s privately", self.user)

    def thread(self, message: dict[str, Any]) -> bool:
        """Reply in the clicked message's thread for everyone; privately if that fails."""
        try:
            self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts or None,
                unfurl_links=False,
                unfurl_media=False,
                **message,
            )
        except SlackApiError:
            logger.exception("could not reply in the thread of %s", self.thread_ts)
            self.private({**message, "response_type": "ephemeral", "replace_original": False})
            return False
        return True

    def update(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace the clicked message's blocks (a failure is logged: the thread has the story)."""
        if self.ephemeral or not self.message_ts:
            return  # a private answer is not the bot's to edit with chat.update
        try:
            self.client.chat_update(
                channel=self.channel, ts=self.message_ts, text=text, blocks=blocks
            )
        except SlackApiError:
            logger.exception("could not update the message %s", self.message_ts)


def _groups(client: WebClient, policy: Policy, user: str) -> tuple[list[str], str]:
    """The configured user groups `user` is in (stopping at the first), and what was unreadable."""
    unreadable = []
    for group in policy.usergroups:
        try:
            users = client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            unreadable.append(f"{group}: {exc.response.get('error', 'error')}")
            continue
        if user in users:
            return [group], ""
    return [], "; ".join(unreadable)


def authorization(client: WebClient, policy: Policy, click: Click, section: str) -> str:
    """Why the clicker may not act here under `policy` (config table `section`), or ""."""
    groups: list[str] = []
    unreadable = ""
    if needs_group_lookup(policy, click.user, click.channel):
        groups, unreadable = _groups(client, policy, click.user)
    reason = authorization_refusal(policy, click.user, click.channel, groups, section)
    if reason and unreadable:
        reason += f" (could not read user group {unreadable})"
    return reason


class Claims:
    """The claim on one environment in the store."""

    def __init__(self, store: Store, environment: str) -> None:
        self.store = store
        self.key = claim_key(environment)

    def read(self) -> tuple[Record, Claim | None]:
        """The record (to write back with compare-and-swap) and the claim it holds."""
        record = self.store.get(self.key) or Record(self.key)
        return record, load_claim(record.body)

    def take(self, record: Record, claim: Claim) -> bool:
        """Write `claim` if the record is still the one read; False when another click won."""
        return self.store.put(replace(record, body=dump_claim(claim)))

    def change(self, request: str, change: Callable[[Claim], Claim]) -> Claim | None:
        """Apply `change` to the claim if it is still `request`'s; the claim written, or None.

        A lost race or a store that fails costs only the record, never a second write to AWS
        nor the report of the first: a claim left behind is resolved later by reading AWS.
        """
        try:
            for _ in range(CAS_ATTEMPTS):
                record, claim = self.read()
                if claim is None or claim.request != request:
                    return None
                changed = change(claim)
                if self.take(record, changed):
                    return changed
        except StoreError:
            logger.exception("the store failed: could not record the claim in %s", self.key)
            return None
        logger.warning("could not record the outcome in %s", self.key)
        return None


def now() -> float:
    """The time claims are stamped with (a function, so tests can move it)."""
    return time.time()


def gate(click: Click, config: Config, policy: Policy, section: str, refusal: str = "") -> str:
    """Why this click may not go on: `refusal` (the config no longer enables it there), else
    the policy of config table `section`; "" when it may."""
    return refusal or authorization(click.client, policy, click, section)


def refuse_click(click: Click, name: str, reason: str, head: str = "Not done") -> None:
    """Tell the clicker privately why an action (`name`) does not go on, and log it."""
    logger.warning("%s refused: %s", name, reason, extra={"slack_user": click.user})
    click.private(build_refusal(f"{head}: {reason}"))


def drive(flow: Callable[[], Flow[Any] | None], click: Click, name: str, *, late: bool) -> None:
    """Make one click's flow (None: the click was refused already) and run it, or for a lazy run
    past Slack's window only report what became of it; a store or AWS client that cannot be
    used refuses the click, saying why."""
    try:
        made = flow()
        if made is None:
            return
        if late:
            made.report()
        else:
            made.run()
    except StoreError as exc:
        logger.exception("%s store failed", name)
        refuse_click(click, name, f"the store is unavailable, so nothing was sent: {exc}")
    except AwsError as exc:  # no AWS client could be made (no region, a broken profile)
        refuse_click(click, name, f"AWS cannot be called, so nothing was sent: {exc.reason}")
    except NoLookups as exc:  # its account is not configured, or its role cannot be assumed
        refuse_click(click, name, f"AWS cannot be read there, so nothing was sent: {exc.reason}")


def place_of(config: Config, account: str, region: str) -> Place:
    """Where a button's target lives: its account's clients in its region (NoLookups when
    deploybot may not act there). A value naming neither is deploybot's own account."""
    return accounts_of(config).place(account, region)


# --- the shared flow --------------------------------------------------------------------------


class Write(Protocol):
    """The one AWS call an action sends: which client, which operation, with what."""

    @property
    def service(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def idempotent(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Call:
    """A write with no idempotency token: sent once, never again blindly."""

    service: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    idempotent: bool = False


W = TypeVar("W", bound=Write)
EARLIER_RUN = AwsProblem(
    "timeout", "", "an earlier run of this click stopped before AWS answered", maybe_done=True
)


class Flow(Generic[W]):
    """One click on an action that changes production, from the claim to the audit reply.

    A subclass is the action: `prepare` re-checks AWS and returns the write (or refuses and
    returns None), `write` sends it, `find` reads back what a claim's write did, and
    `started`/`failed`/`unknown` tell the thread. The rest is shared (module docstring).
    """

    name: ClassVar[str]  # the claims', logs' and refusals' name: "rollback", "approve", ...
    head: ClassVar[str] = "Not done"  # how a private refusal starts
    raced: ClassVar[str] = "another click claimed this at the same moment"
    too_late: ClassVar[str] = (
        "this click reached deploybot after Slack's 5-minute window, so nothing was done. "
        "Click again if it is still needed."
    )
    # After its write succeeded, does the claim still hold the environment (something runs on,
    # like a rollback), or is the action done at once (an approval, a freeze)?
    holds: ClassVar[bool] = False

    def __init__(self, click: Click, store: Store, where: str, place: Place) -> None:
        self.click = click
        self.store = store
        self.claims = Claims(store, where)
        self.place = place  # the account and region it acts in: reads and the one write there

    # --- what an action defines ---------------------------------------------------------------

    @property
    def subject(self) -> str:
        """What the action acts on, in its own terms (kept in the claim)."""
        return ""

    def log(self, what: str, **extra: str) -> dict[str, str]:
        """The structured keys of a log line about this click."""
        return {
            "action": self.name,
            "step": what,
            "slack_user": self.click.user,
            "slack_channel": self.click.channel,
            **extra,
        }

    def token(self) -> str:
        """The idempotency token the write carries, where the API takes one."""
        return ""

    def prepare(self, token: str) -> W | None:
        """Re-check AWS; the write to send, or None once the click was refused (or failed)."""
        raise NotImplementedError

    def facts(self, write: W) -> dict[str, str]:
        """What the claim keeps so that a later click can read back what this one did."""
        return {}

    def write(self, write: W) -> str:
        """Send `write` once, through a client of its account and region that does not retry;
        what AWS started or did."""
        aws.call(self.place.writer(write.service), write.method, retry=False, **write.params)
        return self.name

    def find(self, claim: Claim) -> str:
        """What `claim`'s write did, read from AWS ("" when AWS shows nothing yet)."""
        return ""

    def done_already(self, claim: Claim) -> str:
        """Why not: the last claim's write already did what this click asks (else "")."""
        return ""

    def may_send_again(self, claim: Claim) -> bool:
        """After an earlier run of this click left no trace in AWS: may it send the write?
        A write with no idempotency token only once reading has had time to see it."""
        return claim.settled(now())

    def busy(self, claim: Claim) -> str:
        """Why not: another click is sending its write right now."""
        return f"{mention(claim.user)} is doing this right now"

    def started(self, claim: Claim, outcome: str, write: W | None, *, found: bool = False) -> None:
        """AWS did it: record it, tell the thread (`found`: read back after a lost answer)."""
        raise NotImplementedError

    def failed(self, problem: AwsProblem) -> None:
        """AWS refused the write: tell the thread, in AWS's words."""
        raise NotImplementedError

    def unknown(self, claim: Claim, problem: AwsProblem) -> None:
        """The answer was lost and reading AWS did not show it done (the claim says so
        already): say so in the thread."""
        raise NotImplementedError

    def resolve(self, claim: Claim) -> bool:
        """Another click's write may have happened (its answer was lost): read AWS about it.
        True once this click may go on."""
        try:
            found = self.find(claim)
        except AwsError as exc:
            self.refuse(
                f"{mention(claim.user)}'s earlier click may have done this and AWS cannot "
                f"tell: {exc.problem.reason}. Check the console, then click again."
            )
            return False
        if found:
            self.claims.change(claim.request, lambda c: self._done(c, found))
            return True  # done_already() now says what it did
        if not claim.settled(now()):
            self.refuse(
                f"{mention(claim.user)}'s earlier click may still be getting through: AWS "
                "does not show it yet. Try again in a minute."
            )
            return False
        self.claims.change(claim.request, lambda c: claims.released(c, "AWS shows nothing"))
        return True

    # --- the shared flow ------------------------------------------------------------------------

    def run(self) -> None:
        """What this click may do given the claim, then do it once."""
        record, claim = self.claims.read()
        decided = claims.verdict(claim, self.click.request, now())
        if decided == claims.RERUN:
            logger.info("%s click ran again", self.name, extra=self.log("rerun"))
            return
        if claim is not None and decided == claims.RESUME:
            self.resume(claim)
            return
        if claim is not None and decided == claims.BUSY:
            self.refuse(self.busy(claim))
            return
        if claim is not None and decided == claims.RESOLVE:
            if not self.resolve(claim):
                return
            record, claim = self.claims.read()
        done = self.done_already(claim) if claim is not None else ""
        if done:
            self.refuse(done)
            return
        self._claim_and_send(record)

    def report(self) -> None:
        """For a click too late to act on: its outcome if an earlier run of it began, else say
        privately that nothing was done."""
        _, claim = self.claims.read()
        if claim is None or claim.request != self.click.request:
            self.refuse(self.too_late)
            return
        if claim.state_at(now()) not in (claims.SENDING, claims.UNKNOWN):
            return  # an earlier run of this click recorded and reported its outcome
        self._read_back(claim)

    def resume(self, claim: Claim) -> None:
        """This very click ran before and its outcome was never recorded: read, then go on."""
        if self._read_back(claim, quiet=True):
            return
        if not self.may_send_again(claim):
            # No token: only time proves that a write not seen yet was never made.
            self._unknown(claim, EARLIER_RUN)
            return
        write = self.prepare(claim.token)  # a re-run's token is the first run's
        if write is not None:
            self.send(write, claim)

    def refuse(self, reason: str, *buttons: Block) -> None:
        """Tell the clicker privately why not, and log it."""
        logger.warning("%s refused: %s", self.name, reason, extra=self.log("refused"))
        self.click.private(build_refusal(f"{self.head}: {reason}", *buttons))

    def _read_back(self, claim: Claim, *, quiet: bool = False) -> bool:
        """Read what an earlier run of this click did; True once it is reported."""
        try:
            found = self.find(claim)
        except AwsError as exc:
            self._unknown(claim, exc.problem)
            return True
        if found:
            self.started(claim, found, None, found=True)
            return True
        if not quiet:
            self._unknown(claim, EARLIER_RUN)
        return not quiet

    def _unknown(self, claim: Claim, problem: AwsProblem) -> None:
        """Mark the claim unknown (nothing may start there until reading AWS resolves it), then
        say so."""
        self.claims.change(claim.request, lambda c: claims.unknown(c, problem.reason))
        self.unknown(claim, problem)

    def _claim_and_send(self, record: Record) -> None:
        token = self.token()
        write = self.prepare(token)
        if write is None:
            return
        claim = Claim(
            action=self.name,
            user=self.click.user,
            request=self.click.request,
            at=now(),
            token=token,
            subject=self.subject,
            facts=self.facts(write),
        )
        if not self.claims.take(record, claim):
            self.refuse(self.raced)
            return
        self.send(write, claim)

    def send(self, write: W, claim: Claim) -> None:
        """Send the write once; report what AWS did, refused, or may have done."""
        try:
            outcome = self.write(write)
        except AwsError as exc:
            problem = exc.problem
            if problem.maybe_done:
                self._lost(write, claim, problem)
            else:
                self.claims.change(claim.request, lambda c: claims.failed(c, problem.reason))
                self.failed(problem)
            return
        self.started(claim, outcome, write)

    def _lost(self, write: W, claim: Claim, problem: AwsProblem) -> None:
        """The write's answer was lost: read what AWS did (and repeat a tokened write)."""
        self.claims.change(claim.request, lambda c: claims.unknown(c, problem.reason))
        logger.warning(
            "%s outcome unknown: %s", self.name, problem.reason, extra=self.log("unknown")
        )
        found = ""
        try:
            found = self.find(claim)
            if not found and write.idempotent:
                # Same idempotency token: if the first call did it, this does nothing new.
                found = self.write(write)
        except AwsError as exc:
            logger.warning("could not resolve the %s: %s", self.name, exc.problem.reason)
        if found:
            self.started(claim, found, write, found=True)
        else:
            self.unknown(claim, problem)

    def record(self, claim: Claim, outcome: str, link: str = "", note: str = "") -> None:
        """Write down what the claim's write did (and free the environment unless it `holds`)."""
        self.claims.change(claim.request, lambda c: self._done(c, outcome, link, note))

    def _done(self, claim: Claim, outcome: str, link: str = "", note: str = "") -> Claim:
        done = claims.started(claim, outcome, link)
        if note:
            done = replace(done, note=note)
        return done if self.holds else replace(done, state=claims.RELEASED)
