"""Clients per AWS account and region: the function's own credentials, or a spoke's role.

deploybot runs in one account (the hub). An `[[accounts]]` entry with a `role_arn` is a spoke:
its clients sign with credentials from sts:AssumeRole of that role (with its `external_id`),
kept for the container and refreshed by botocore shortly before they expire (advisory refresh
15 minutes before, mandatory 10), so a warm container makes one STS call per account per
hour. A role that stops being assumable is a note naming it, and STS is not asked again for
FAILURE_SECONDS, at the first AssumeRole as at a refresh. The hub's own account (an entry
without `role_arn`, or an event naming no account) uses the function's own session, through
the very clients `bot.aws.client` shares. Without `[[accounts]]`, that account is the only one
read: an event or button naming another is NoLookups (sts:GetCallerIdentity, once per
container, tells deploybot's own id; an event naming no account costs no STS call).

`Accounts.place(account, region)` is the one way to get clients for what an event or a button
names: a `Place` with read clients (retrying, rate-limited per account and region) and write
clients that send each request once; or `NoLookups`, whose `reason` is the note a message
carries: an account that is not configured, a region it does not list, a role that cannot be
assumed. Nothing here runs at import: boto3 loads on the first place asked for, never on the
Slack door's ack.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from bot import aws
from bot.aws import AwsError, limits
from bot.domain.config import Account, Config
from bot.domain.model import AwsProblem

logger = logging.getLogger(__name__)

SESSION_NAME = "deploybot"  # RoleSessionName: what the spoke's CloudTrail shows
FAILURE_SECONDS = 60.0  # a role that could not be assumed is not asked again for this long


class NoLookups(Exception):
    """AWS cannot be read for an account and region; `reason` says why, for a message's note.

    `problem` is AWS's refusal when there was one (sts:AssumeRole denied, ...)."""

    def __init__(self, reason: str, problem: AwsProblem | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.problem = problem


class RoleRefused(AwsError):
    """A role's credentials could not be renewed: raised through the AWS call that needed them
    (botocore refreshes while signing it); its `reason` names the role and what to fix."""

    @property
    def reason(self) -> str:
        """assume_failure()'s note."""
        return self.problem.message or self.problem.reason


@dataclass(frozen=True, slots=True)
class Place:
    """One account and region, with the clients that read and write there."""

    account: str  # the account id ("" for the function's own, when its id is not known)
    region: str
    name: str  # what the config calls the account ("" when it names none)
    make: Callable[[str, bool], Any] = field(repr=False, compare=False)

    def client(self, service: str) -> Any:
        """The read client of `service` here (retries, rate limit). AwsError if none."""
        return self.make(service, True)

    def writer(self, service: str) -> Any:
        """The client of `service` here that sends each request once, for production writes."""
        return self.make(service, False)

    @property
    def codepipeline(self) -> Any:
        """The CodePipeline read client here."""
        return self.client("codepipeline")

    @property
    def codedeploy(self) -> Any:
        """The CodeDeploy read client here."""
        return self.client("codedeploy")

    @property
    def label(self) -> str:
        """The account as messages name it, with the region: "prod (eu-west-1)"."""
        who = self.name or self.account
        return f"{who} ({self.region})" if who else self.region


def home(region: str = "", account: str = "", name: str = "") -> Place:
    """The function's own account (`account` when its id is known), in `region` (its own by
    default), through the clients bot.aws shares."""
    region = region or aws.home_region()

    def make(service: str, retry: bool) -> Any:
        return aws.client(service, retry=retry, region=region)

    return Place(account, region, name, make)


class Places(Protocol):
    """Where AWS is read: the config's accounts (Accounts), or fixed clients (Clients)."""

    @property
    def configured(self) -> bool:
        """True when the config names accounts."""
        ...

    def place(self, account: str, region: str) -> Place:
        """The clients for `account` in `region`; NoLookups when deploybot may not read there."""
        ...

    def places(self) -> list[tuple[str, str, str]]:
        """Every (account id, name, region) to cover ("" as the id of deploybot's own)."""
        ...

    def own_id(self) -> str:
        """deploybot's own account id ("" when it cannot be told)."""
        ...


class Clients:
    """One place with given read clients: tests, benchmarks, a caller that holds clients."""

    def __init__(self, codepipeline: Any, codedeploy: Any) -> None:
        self.region = aws.region_of(codepipeline)
        reads = {"codepipeline": codepipeline, "codedeploy": codedeploy}

        def make(service: str, retry: bool) -> Any:
            if retry and service in reads:
                return reads[service]
            return aws.client(service, retry=retry, region=self.region)

        self._make = make

    configured = False

    def place(self, account: str, region: str) -> Place:
        """These clients, for events of their own region."""
        if region and region != self.region:
            raise NoLookups(f"the event is from {region}, the AWS clients use {self.region}")
        return Place(account, self.region, "", self._make)

    def places(self) -> list[tuple[str, str, str]]:
        """The clients' own region."""
        return [("", "", self.region)]

    def own_id(self) -> str:
        """Not known."""
        return ""


class Accounts:
    """Where every account and region of the config is read from; one per container."""

    def __init__(self, accounts: tuple[Account, ...]) -> None:
        self._accounts = accounts
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}  # account id -> boto3 Session with the role's keys
        self._assuming: dict[str, threading.Lock] = {}  # account id -> its first AssumeRole
        self._failed: dict[str, tuple[float, AwsProblem]] = {}  # account id -> (until, why)
        self._clients: dict[tuple[str, str, str, bool], Any] = {}
        self._own_id: str | None = None
        self._own_failed = 0.0  # STS could not tell until then: not asked again before

    @property
    def configured(self) -> bool:
        """True when the config names accounts (else the function's own account is all)."""
        return bool(self._accounts)

    def entry(self, account: str) -> Account | None:
        """The `[[accounts]]` entry of an account id."""
        return next((a for a in self._accounts if a.id == account), None)

    def regions(self, entry: Account | None) -> tuple[str, ...]:
        """Where an account is read: its `regions`, else the region deploybot runs in."""
        return (entry.regions if entry else ()) or (aws.home_region(),)

    def places(self) -> list[tuple[str, str, str]]:
        """Every (account id, name, region) the config covers, the function's own included
        ("" as its id when it is not configured)."""
        if not self._accounts:
            return [("", "", aws.home_region())]
        covered = [(a.id, a.name, r) for a in self._accounts for r in self.regions(a)]
        if not any(not a.role_arn for a in self._accounts):
            covered.insert(0, ("", "", aws.home_region()))
        return covered

    # --- resolving ------------------------------------------------------------------------

    def place(self, account: str, region: str) -> Place:
        """The clients for `account` in `region`; NoLookups when deploybot may not read there."""
        region = region or aws.home_region()
        if not self._accounts:
            ours = aws.home_region()
            if region != ours:
                raise NoLookups(f"the event is from {region}, the AWS clients use {ours}")
            self._own_only(account)
            return home(region)
        # An event that names no account is deploybot's own account's.
        entry = self.entry(account) if account else self.entry(self.own_id())
        if entry is None and account and account != self.own_id():
            raise NoLookups(not_configured(account))
        allowed = self.regions(entry)
        if region not in allowed:
            who = f"account {entry.name}" if entry else "deploybot's own account"
            raise NoLookups(f"{region} is not among the regions of {who} (accounts.regions)")
        if entry is None or not entry.role_arn:
            return home(region, entry.id if entry else account, entry.name if entry else "")
        session = self._session(entry)
        return Place(entry.id, region, entry.name, self._maker(entry.id, region, session))

    def _own_only(self, account: str) -> None:
        """Without [[accounts]], only deploybot's own account is read: NoLookups for an event
        of another (its same-named pipeline is not ours to read or write). An event naming no
        account costs nothing; one naming an account asks STS once per container."""
        if not account:
            return
        own = self.own_id()
        if not own:
            raise NoLookups(
                f"could not tell whether account {account} is deploybot's own "
                "(sts:GetCallerIdentity failed): list deploybot's own account in [[accounts]] "
                "(id, name) for deploybot to read it"
            )
        if account != own:
            raise NoLookups(not_configured(account))

    def own_id(self) -> str:
        """The function's own account id: the entry without a role, else DEPLOYBOT_ACCOUNT_ID
        (the SAM template sets it), else sts:GetCallerIdentity (once per container; no IAM
        permission is needed for it). "" when it cannot be told."""
        own = next((a.id for a in self._accounts if not a.role_arn), "")
        hint = os.environ.get("DEPLOYBOT_ACCOUNT_ID", "")
        own = own or (hint if re.fullmatch(r"[0-9]{12}", hint) else "")
        if own or self._own_id is not None:
            return own or self._own_id or ""
        if self._own_failed > time.monotonic():
            return ""
        try:
            answer = aws.call(aws.client("sts"), "get_caller_identity")
        except AwsError as exc:
            logger.warning("could not tell deploybot's own account: %s", exc.reason)
            self._own_failed = time.monotonic() + FAILURE_SECONDS
            return ""
        self._own_id = str(answer.get("Account") or "")
        return self._own_id

    def _maker(self, account: str, region: str, session: Any) -> Callable[[str, bool], Any]:
        def make(service: str, retry: bool) -> Any:
            key = (account, region, service, retry)
            with self._lock:
                made = self._clients.get(key)
            if made is None:
                limiter = limits.limiter(account, region)
                made = aws.make_client(
                    session, service, retry=retry, region=region, limiter=limiter
                )
                with self._lock:
                    made = self._clients.setdefault(key, made)
            return made

        return make

    def _session(self, entry: Account) -> Any:
        """A session signing with the role's credentials: one AssumeRole, then botocore
        refreshes them before they expire. NoLookups when the role cannot be assumed."""
        with self._lock:
            first = self._assuming.setdefault(entry.id, threading.Lock())
        with first:  # two regions asked at once: one AssumeRole, the other waits for it
            with self._lock:
                made = self._sessions.get(entry.id)
                failed = self._failed.get(entry.id)
            # A failed AssumeRole, first or refresh, holds the account off for a while; after
            # that, a session made already refreshes its credentials on its next call.
            if failed is not None and failed[0] > time.monotonic():
                raise NoLookups(failed[1].message, failed[1])
            return made if made is not None else self._assumed(entry)

    def _assumed(self, entry: Account) -> Any:
        """The account's first AssumeRole: its session, or NoLookups (kept for a minute)."""
        try:
            metadata = self._assume(entry)
        except AwsError as exc:
            problem = self._refused(entry, exc)
            raise NoLookups(problem.message, problem) from exc
        session = _role_session(metadata, lambda: self._refresh(entry))
        with self._lock:
            return self._sessions.setdefault(entry.id, session)

    def _refresh(self, entry: Account) -> dict[str, str]:
        """botocore's renewal of a role's credentials, before they expire. A role that stopped
        being assumable fails as the first AssumeRole does: the same note (RoleRefused, raised
        through the call that needed the credentials), and no AssumeRole for FAILURE_SECONDS
        (meanwhile `place` refuses the account, and calls fail at once)."""
        with self._lock:
            failed = self._failed.get(entry.id)
        if failed is not None and failed[0] > time.monotonic():
            raise RoleRefused(failed[1])
        try:
            return self._assume(entry)
        except AwsError as exc:
            raise RoleRefused(self._refused(entry, exc)) from exc

    def _refused(self, entry: Account, exc: AwsError) -> AwsProblem:
        """Remember that the role could not be assumed (for FAILURE_SECONDS); AWS's refusal,
        its message the note that names the role and what to fix."""
        reason = assume_failure(entry, exc)
        logger.warning("%s (%s)", reason, exc)
        problem = replace(exc.problem, message=reason)
        with self._lock:
            self._failed[entry.id] = (time.monotonic() + FAILURE_SECONDS, problem)
        return problem

    @staticmethod
    def _assume(entry: Account) -> dict[str, str]:
        """sts:AssumeRole of the entry's role, as botocore's refreshable credentials take it."""
        params: dict[str, Any] = {"RoleArn": entry.role_arn, "RoleSessionName": SESSION_NAME}
        if entry.external_id:
            params["ExternalId"] = entry.external_id
        answer = aws.call(aws.client("sts"), "assume_role", **params)
        keys: dict[str, Any] = answer.get("Credentials") or {}
        expires = keys.get("Expiration")  # botocore parses it to a datetime
        return {
            "access_key": str(keys.get("AccessKeyId") or ""),
            "secret_key": str(keys.get("SecretAccessKey") or ""),
            "token": str(keys.get("SessionToken") or ""),
            "expiry_time": expires.isoformat() if isinstance(expires, datetime) else str(expires),
        }


def not_configured(account: str) -> str:
    """The note of an event or button of an account that [[accounts]] does not list."""
    return (
        f"account {account} is not configured: add it to [[accounts]] (id, name, role_arn, "
        "regions) for deploybot to read it"
    )


def assume_failure(entry: Account, exc: AwsError) -> str:
    """Why a role could not be assumed, and what trust or permission is missing."""
    problem = exc.problem
    if problem.kind != "denied":
        return f"could not assume {entry.role_arn} for account {entry.name}: {problem.reason}"
    external = " with its external ID (accounts.external_id)" if entry.external_id else ""
    return (
        f"could not assume {entry.role_arn} for account {entry.name} (AccessDenied): its "
        f"trust policy must let deploybot's role call sts:AssumeRole{external}, and "
        "deploybot's role needs sts:AssumeRole on it (hub parameter SpokeRoleArns)"
    )


def _role_session(metadata: dict[str, str], refresh: Callable[[], dict[str, str]]) -> Any:
    """A boto3 session whose every client signs with the role's refreshable credentials."""
    import boto3
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

    credentials = RefreshableCredentials.create_from_metadata(
        metadata, refresh_using=refresh, method="deploybot-assume-role"
    )

    class _Role(CredentialProvider):  # type: ignore[misc]
        METHOD = "deploybot-assume-role"
        CANONICAL_NAME = "custom-deploybot-assume-role"

        def load(self) -> Any:
            return credentials

    core = botocore.session.Session()
    # The service models are the ones the function's own session loaded already.
    core.register_component("data_loader", aws.core_session().get_component("data_loader"))
    core.register_component("credential_provider", CredentialResolver([_Role()]))
    return boto3.session.Session(botocore_session=core)


@cache
def _accounts(accounts: tuple[Account, ...]) -> Accounts:
    return Accounts(accounts)


def accounts_of(config: Config) -> Accounts:
    """The container's resolver for the accounts a config names (one per set of accounts)."""
    return _accounts(config.accounts)
