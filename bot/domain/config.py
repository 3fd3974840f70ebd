"""The configuration model and its validation. Pure: a decoded TOML document and an environment
mapping in, a `Config` out; every error names the key.

bot/config.py reads the file and the process environment; everything else receives a `Config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain.model import Deployment, Scope, Status
from bot.domain.people import map_key
from bot.domain.places import is_account_id, is_region_name
from bot.domain.urls import split_url

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_CHANNEL = "#deployments"

# AWS lookups (bot/enrich.py): the whole enrichment of one event must finish within the
# timeout; discovered pipeline definitions are kept for cache_seconds per warm container.
DEFAULT_ENRICH_TIMEOUT_SECONDS = 5.0
MAX_TIMEOUT_SECONDS = 60.0
DEFAULT_CACHE_SECONDS = 600.0
DEFAULT_MAX_PAGES = 3

# What the noise policy can say about one scope of notification.
NOTIFY_CHOICES = ("all", "final", "failures", "none")
DEFAULT_NOTIFY: Mapping[Scope, str] = {
    Scope.PIPELINE: "all",
    Scope.DEPLOYMENT: "all",
    Scope.APPROVAL: "all",
    Scope.GENERIC: "all",
    Scope.STAGE: "failures",
    Scope.ACTION: "failures",
    Scope.INSTANCE: "failures",
}

STORE_BACKENDS = ("sqlite", "dynamodb", "none")
DEFAULT_STORE_PATH = ".deploybot/state.db"
DEFAULT_STORE_TTL_DAYS = 30
STORE_INDEX = "lists"  # the table's global secondary index: the ledger's and the sweep's lists

# Slack ids, each matched whole (fullmatch: a "$" would let "U0123ABC\n" through).
_MENTION = re.compile(r"[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|here|channel|authors")
_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,}")
_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_USERGROUP = re.compile(r"S[A-Z0-9]{2,}")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_TEAM = re.compile(r"T[A-Z0-9]{2,}")
_PERSON = re.compile(r"@?[^\s@]+(?:@[^\s@]+)?")  # a login, or an e-mail address
_URL = re.compile(r"https?://[^\s/?#]+(?:/[^\s?#]*)?")

# How a pipeline is rolled back (bot/domain/rollback.py): re-run with every source pinned to the
# target execution's revisions (every stage runs again: build, tests, approvals), or
# `rollback_stage` of the deploy stage to the target execution's artifacts.
ROLLBACK_STRATEGIES = ("pipeline", "stage")
_STAGE_NAME = re.compile(r"[A-Za-z0-9.@\-_]{1,100}")  # CodePipeline's StageName
DEFAULT_ROLLBACK_STRATEGY = "pipeline"

# Manual approvals ([approvals]): remind in the thread after this long, by default.
DEFAULT_REMIND_AFTER_SECONDS = 3600.0
_DURATION = re.compile(r"(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?")
_DURATION_UNITS = (86400, 3600, 60)
# The release diff (bot/aws/release.py): titles shown, commits read, where GitHub's API is.
DEFAULT_COMMITS_SHOWN = 3
MAX_COMMITS_SHOWN = 10
DEFAULT_MAX_COMMITS = 300
MAX_MAX_COMMITS = 1000
DEFAULT_GITHUB_API_URL = "https://api.github.com"


class ConfigError(ValueError):
    """The configuration file is unreadable or has a bad key; the message names it."""


# Several AWS accounts ([[accounts]]): what the hub assumes in each, and where it looks.
_ACCOUNT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")  # shown on messages, typed in filters
# IAM role ARNs (IAM User Guide, "IAM identifiers"): path and name of [\w+=,.@-].
_ROLE_ARN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:iam::([0-9]{12}):role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}",
    re.ASCII,
)
# deploybot's own account is read with the function's role, which template.yaml lets read in
# the function's region alone (aws:RequestedRegion).
OWN_REGION_ONLY = (
    "deploybot's own account (no role_arn) is read only in the region the function runs in "
    "(template.yaml grants its reads there alone): list that region or none; to read this "
    "account in more regions, deploy spoke.yaml in it (Regions=...) and set role_arn to its "
    "RoleArn output"
)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)  # sts:AssumeRole's ExternalId


@dataclass(frozen=True, slots=True)
class Account:
    """An `[[accounts]]` entry: an AWS account deploybot reads (and acts in) by assuming a role.

    The hub's own account needs no `role_arn`: its lookups use the function's own credentials.
    `regions` empty: the region deploybot runs in.
    """

    id: str
    name: str
    role_arn: str = ""
    regions: tuple[str, ...] = ()
    external_id: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Route:
    """Send matching notifications to `channel`; an empty matcher matches anything."""

    channel: str
    applications: tuple[str, ...] = ()
    deployment_groups: tuple[str, ...] = ()
    pipelines: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()
    accounts: tuple[str, ...] = ()  # account ids (a configured name is resolved when loaded)
    regions: tuple[str, ...] = ()

    def matches(self, event: Deployment) -> bool:
        """True when every non-empty matcher of this route accepts the event."""
        checks = (
            (self.applications, event.application),
            (self.deployment_groups, event.deployment_group),
            (self.pipelines, event.pipeline),
            (self.accounts, event.account),
            (self.regions, event.region),
        )
        if any(names and value not in names for names, value in checks):
            return False
        return not self.statuses or event.status in self.statuses


@dataclass(frozen=True, slots=True)
class PipelineMapping:
    """An explicit `[[pipelines]]` entry: which pipeline deploys which application/group."""

    pipeline: str
    applications: tuple[str, ...] = ()
    deployment_groups: tuple[str, ...] = ()
    source_action: str = ""  # the source action whose revision is "the commit"

    def matches(self, application: str, deployment_group: str) -> bool:
        """True when this entry names the pipeline that deploys `application`/`deployment_group`."""
        if not self.applications and not self.deployment_groups:
            return False
        if self.applications and application not in self.applications:
            return False
        return not self.deployment_groups or deployment_group in self.deployment_groups


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    """The `[enrich]` table: how the AWS lookups behave."""

    enabled: bool = True
    timeout_seconds: float = DEFAULT_ENRICH_TIMEOUT_SECONDS
    cache_seconds: float = DEFAULT_CACHE_SECONDS
    discover: bool = True
    max_pages: int = DEFAULT_MAX_PAGES
    source_action: str = ""


DEFAULT_PAGE_SIZE = 20
DEFAULT_FRESH_SECONDS = 60.0
DEFAULT_BACKFILL_SECONDS = 20.0
DEFAULT_SWEEP_AFTER_MINUTES = 10.0
DEFAULT_STUCK_FACTOR = 3.0
DEFAULT_STUCK_MINUTES = 60.0  # when a pipeline or group has no finished run to measure by
DEFAULT_SWEEP_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class StatusSettings:
    """The `[status]` table beyond `pipelines`: how /deploy-status pages and refreshes."""

    page_size: int = DEFAULT_PAGE_SIZE  # pipelines per page (Next shows the following ones)
    fresh_seconds: float = DEFAULT_FRESH_SECONDS  # younger ledger entries are not read again
    backfill_seconds: float = DEFAULT_BACKFILL_SECONDS  # after answering: fill in the ledger


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """The `[sweep]` table: the scheduled look at messages that may have missed an event."""

    after_minutes: float = DEFAULT_SWEEP_AFTER_MINUTES  # not final this long: ask AWS
    stuck_after_minutes: float = 0.0  # 0: stuck_factor x the median of recent durations
    stuck_factor: float = DEFAULT_STUCK_FACTOR
    seconds: float = DEFAULT_SWEEP_SECONDS  # one sweep's budget (the function times out at 30)


@dataclass(frozen=True, slots=True)
class RollbackPipeline:
    """A `[[rollback.pipelines]]` entry: rollback is enabled for this pipeline, and how."""

    pipeline: str
    environment: str = ""  # what people call it in the confirm dialog; "" = the pipeline name
    strategy: str = DEFAULT_ROLLBACK_STRATEGY
    # The deploy stage: what runs is what it last deployed, `rollback_stage` rolls it back and a
    # freeze closes its inbound transition. "" = the last stage with a Deploy action.
    stage: str = ""
    freeze_after_rollback: bool = False  # close the deploy stage's inbound transition after


@dataclass(frozen=True, slots=True)
class RollbackGroup:
    """A `[[rollback.deployment_groups]]` entry: redeploys of a group no pipeline deploys to."""

    application: str
    deployment_group: str
    environment: str = ""  # "" = application/deployment_group


@dataclass(frozen=True, slots=True)
class RollbackSettings:
    """The `[rollback]` table. Nothing configured: no button, and every click refused."""

    pipelines: tuple[RollbackPipeline, ...] = ()
    deployment_groups: tuple[RollbackGroup, ...] = ()
    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """True when some pipeline or deployment group can be rolled back."""
        return bool(self.pipelines or self.deployment_groups)

    @property
    def anyone(self) -> bool:
        """True when somebody may press its buttons (roll back, steer, freeze), somewhere."""
        return bool(self.channels and (self.users or self.usergroups))

    def pipeline(self, name: str) -> RollbackPipeline | None:
        """The entry enabling rollback of pipeline `name`, if any."""
        return next((p for p in self.pipelines if p.pipeline == name), None)

    def group(self, application: str, deployment_group: str) -> RollbackGroup | None:
        """The entry enabling rollback of this deployment group, if any."""
        return next(
            (
                g
                for g in self.deployment_groups
                if (g.application, g.deployment_group) == (application, deployment_group)
            ),
            None,
        )


@dataclass(frozen=True, slots=True)
class ApprovalPipeline:
    """An `[[approvals.pipelines]]` entry: who may answer this pipeline's approvals instead."""

    pipeline: str
    users: tuple[str, ...] | None = None  # None: the section's users
    usergroups: tuple[str, ...] | None = None  # None: the section's user groups


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """Who may answer one pipeline's approvals, and where (bot/domain/policy.py checks it)."""

    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    overridden: bool = False  # an [[approvals.pipelines]] entry names the users or groups

    @property
    def anyone(self) -> bool:
        """True when somebody may answer, somewhere: the message then carries the buttons."""
        return bool(self.channels and (self.users or self.usergroups))


@dataclass(frozen=True, slots=True)
class ApprovalSettings:
    """The `[approvals]` table. Nothing configured: no buttons, and every click refused."""

    users: tuple[str, ...] = ()
    usergroups: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    pipelines: tuple[ApprovalPipeline, ...] = ()
    # By default nobody answers an approval of a change they triggered or authored.
    allow_self_approval: bool = False
    remind_after_seconds: float = DEFAULT_REMIND_AFTER_SECONDS  # 0: no reminder

    def policy_for(self, pipeline: str) -> ApprovalPolicy:
        """Who may answer `pipeline`'s approvals: the section, or its pipeline entry's people."""
        entry = next((p for p in self.pipelines if p.pipeline == pipeline), None)
        if entry is None:
            return ApprovalPolicy(self.users, self.usergroups, self.channels)
        return ApprovalPolicy(
            users=self.users if entry.users is None else entry.users,
            usergroups=self.usergroups if entry.usergroups is None else entry.usergroups,
            channels=self.channels,
            overridden=True,
        )


@dataclass(frozen=True, slots=True)
class ReleaseSettings:
    """The `[release]` and `[people]` tables, and the GitHub settings of the environment."""

    enabled: bool = True
    commits_shown: int = DEFAULT_COMMITS_SHOWN  # commit titles a deployment message lists
    max_commits: int = DEFAULT_MAX_COMMITS  # commits read per diff (GitHub pages, CodeCommit walk)
    lookup_emails: bool = True  # users.lookupByEmail for authors [people] does not name
    gitlab_url: str = ""  # self-managed GitLab's web root, for compare links
    people: Mapping[str, str] = field(default_factory=dict)  # e-mail or login -> Slack user id
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_token: str = field(default="", repr=False)
    github_token_parameter: str = ""  # SSM SecureString name (read on first use, cached)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything deploybot is told, validated. Build it directly in tests."""

    default_channel: str = DEFAULT_CHANNEL
    routes: tuple[Route, ...] = ()
    failure_mentions: tuple[str, ...] = ()
    sites: Mapping[str, str] = field(default_factory=dict)
    notify: Mapping[Scope, str] = field(default_factory=lambda: dict(DEFAULT_NOTIFY))
    slack_bot_token: str = field(default="", repr=False)
    slack_webhook_url: str = field(default="", repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    pipelines: tuple[PipelineMapping, ...] = ()
    enrich: EnrichSettings = EnrichSettings()
    rollback: RollbackSettings = RollbackSettings()
    status: StatusSettings = StatusSettings()
    sweep: SweepSettings = SweepSettings()
    approvals: ApprovalSettings = ApprovalSettings()

    def pipelines_for(self, application: str, deployment_group: str) -> tuple[str, ...]:
        """Pipelines the config says deploy this application/group, in config order."""
        names = (m.pipeline for m in self.pipelines if m.matches(application, deployment_group))
        return tuple(dict.fromkeys(names))

    def source_action_for(self, pipeline: str) -> str:
        """The source action that names the commit of `pipeline` ("" = the first code source)."""
        for mapping in self.pipelines:
            if mapping.pipeline == pipeline and mapping.source_action:
                return mapping.source_action
        return self.enrich.source_action

    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    # On AWS the secrets are not in the environment: these name where bot/secrets.py reads them.
    slack_bot_token_parameter: str = ""  # SSM SecureString name
    slack_signing_secret_parameter: str = ""  # SSM SecureString name
    slack_secrets_id: str = ""  # Secrets Manager id of {"SLACK_BOT_TOKEN": ..., ...}
    # The workspaces whose requests the Slack door serves; empty: the bot token's (auth.test).
    slack_team_ids: tuple[str, ...] = ()
    watched_pipelines: tuple[str, ...] = ()  # empty: every pipeline list_pipelines finds
    store_backend: str = "sqlite"  # where living messages are remembered; "none" posts per event
    store_path: str = DEFAULT_STORE_PATH
    store_table: str = ""
    store_ttl_days: int = DEFAULT_STORE_TTL_DAYS
    release: ReleaseSettings = ReleaseSettings()
    accounts: tuple[Account, ...] = ()  # [[accounts]]: none means the function's own account only

    def account(self, key: str) -> Account | None:
        """The `[[accounts]]` entry with this id, or this name (any letter case)."""
        lowered = key.lower()
        return next((a for a in self.accounts if key == a.id or lowered == a.name.lower()), None)

    def account_name(self, account_id: str) -> str:
        """What messages call an account: its configured name ("" when it has none)."""
        found = next((a for a in self.accounts if a.id == account_id), None) if account_id else None
        return found.name if found else ""

    def named(self, event: Deployment) -> Deployment:
        """The event with its account's configured name, for what a message shows."""
        name = self.account_name(event.account)
        return replace(event, account_name=name) if name != event.account_name else event

    def channel_for(self, event: Deployment) -> str:
        """The first matching route's channel, else the default channel."""
        for route in self.routes:
            if route.matches(event):
                return route.channel
        return self.default_channel

    def site_for(self, event: Deployment) -> str:
        """The site URL of the event's environment: deployment group, pipeline or application."""
        for key in (event.deployment_group, event.pipeline, event.application):
            if key and key in self.sites:
                return self.sites[key]
        return ""

    def skip_reason(self, event: Deployment) -> str:
        """Why the noise policy drops this event, or "" when it is posted."""
        rule = self.notify.get(event.scope, "all")
        if rule == "all":
            return ""
        if rule == "none":
            return f"{event.scope.value} notifications are off (notify.{event.scope.value})"
        if rule == "final" and not event.status.is_final:
            return (
                f"{event.scope.value} is {event.status.value}, not final "
                f"(notify.{event.scope.value} = final)"
            )
        if rule == "failures" and not event.status.is_failure:
            return (
                f"{event.scope.value} is {event.status.value}, not a failure "
                f"(notify.{event.scope.value} = failures)"
            )
        return ""


# --- loading ---------------------------------------------------------------------------------


_TOP_LEVEL = {
    "slack",
    "routes",
    "sites",
    "notify",
    "pipelines",
    "enrich",
    "status",
    "store",
    "rollback",
    "sweep",
    "approvals",
    "release",
    "people",
    "accounts",
}


def config_from_mapping(data: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    """Validate a decoded TOML document; every error names the offending key."""
    _only(data, "", _TOP_LEVEL)
    slack = _table(data, "slack")
    channel, mentions = _slack(slack)
    status = _table(data, "status")
    _only(status, "status.", {"pipelines", "page_size", "fresh_seconds", "backfill_seconds"})
    api_url = env.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    backend, path, table, ttl_days = _store(_table(data, "store"), env)
    accounts = _accounts(data.get("accounts", []))
    return Config(
        default_channel=channel,
        routes=_routes(data.get("routes", []), accounts),
        failure_mentions=mentions,
        sites=_sites(_table(data, "sites")),
        notify=_notify(_table(data, "notify")),
        slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
        slack_webhook_url=env.get("SLACK_WEBHOOK_URL", ""),
        slack_api_url=api_url if api_url.endswith("/") else api_url + "/",
        pipelines=_pipelines(data.get("pipelines", [])),
        enrich=_enrich(_table(data, "enrich")),
        rollback=_rollback(_table(data, "rollback")),
        status=_status(status),
        sweep=_sweep(_table(data, "sweep")),
        approvals=_approvals(_table(data, "approvals")),
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
        slack_app_token=env.get("SLACK_APP_TOKEN", ""),
        slack_bot_token_parameter=env.get("SLACK_BOT_TOKEN_PARAMETER", ""),
        slack_signing_secret_parameter=env.get("SLACK_SIGNING_SECRET_PARAMETER", ""),
        slack_secrets_id=env.get("SLACK_SECRETS_ID", ""),
        slack_team_ids=_teams(slack),
        watched_pipelines=tuple(_str_list(status.get("pipelines", []), "status.pipelines")),
        store_backend=backend,
        store_path=path,
        store_table=table,
        store_ttl_days=ttl_days,
        release=_release(_table(data, "release"), _table(data, "people"), env),
        accounts=accounts,
    )


def _slack(slack: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The `[slack]` table: the default channel and who to mention on failure."""
    _only(slack, "slack.", {"channel", "failure_mentions", "team_id"})
    channel = _channel(slack.get("channel", DEFAULT_CHANNEL), "slack.channel")
    mentions = tuple(_str_list(slack.get("failure_mentions", []), "slack.failure_mentions"))
    for mention in mentions:
        if not _MENTION.fullmatch(mention):
            raise ConfigError(
                f"slack.failure_mentions: {mention!r} is not a user id (U…/W…), a user group "
                "id (S…), 'here', 'channel' or 'authors'"
            )
    return channel, mentions


def _teams(slack: Mapping[str, Any]) -> tuple[str, ...]:
    """`[slack] team_id`: the workspace(s) whose requests the Slack door serves."""
    teams = tuple(_str_list(slack.get("team_id", []), "slack.team_id"))
    for team in teams:
        if not _TEAM.fullmatch(team):
            raise ConfigError(f"slack.team_id: {team!r} is not a workspace id (T…)")
    return teams


def _store(store: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, str, str, int]:
    """The `[store]` table and its environment: (backend, SQLite path, DynamoDB table, TTL)."""
    _only(store, "store.", {"backend", "path", "table", "ttl_days"})
    table = env.get("DEPLOYBOT_TABLE") or _str(store.get("table", ""), "store.table")
    # A Lambda container's disk is its own: SQLite there would dedupe nothing across containers.
    on_lambda = bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
    default_backend = "dynamodb" if table else ("none" if on_lambda else "sqlite")
    backend = _str(store.get("backend", default_backend), "store.backend")
    if backend not in STORE_BACKENDS:
        raise ConfigError(f"store.backend: must be one of {', '.join(STORE_BACKENDS)}")
    if backend == "sqlite" and on_lambda:
        raise ConfigError(
            "store.backend: sqlite is not shared between Lambda containers; use dynamodb "
            "(DEPLOYBOT_TABLE) or none"
        )
    if backend == "dynamodb" and not table:
        raise ConfigError("store.table: is required for the dynamodb backend (or DEPLOYBOT_TABLE)")
    ttl_days = store.get("ttl_days", DEFAULT_STORE_TTL_DAYS)
    if isinstance(ttl_days, bool) or not isinstance(ttl_days, int) or not 1 <= ttl_days <= 365:
        raise ConfigError("store.ttl_days: must be a whole number of days from 1 to 365")
    path = env.get("DEPLOYBOT_STORE_PATH") or _str(
        store.get("path", DEFAULT_STORE_PATH), "store.path"
    )
    return backend, path, table, ttl_days


def _only(table: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{prefix}{key}: unknown key (expected one of: {', '.join(sorted(allowed))})"
            )


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: must be a table")
    return value


def _str(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string")
    return value


def _str_list(value: object, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}: must be a string or a list of non-empty strings")
    return list(value)


def _channel(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string")
    if _CHANNEL.fullmatch(value):
        return value
    raise ConfigError(f"{key}: {value!r} is not a channel id (C…) or a #channel-name")


def _array_of_tables(value: object, name: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The tables of a `[[name]]` array, each with its key for errors ("routes[2]")."""
    if not isinstance(value, list):
        raise ConfigError(f"{name}: must be an array of tables ([[{name}]])")
    entries = []
    for index, item in enumerate(value):
        key = f"{name}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{key}: must be a table")
        entries.append((key, item))
    return entries


def _routes(value: object, accounts: tuple[Account, ...] = ()) -> tuple[Route, ...]:
    routes = []
    for key, item in _array_of_tables(value, "routes"):
        _only(
            item,
            f"{key}.",
            {
                "channel",
                "application",
                "deployment_group",
                "pipeline",
                "status",
                "account",
                "region",
            },
        )
        if "channel" not in item:
            raise ConfigError(f"{key}.channel: is required")
        routes.append(
            Route(
                channel=_channel(item["channel"], f"{key}.channel"),
                applications=tuple(_str_list(item.get("application", []), f"{key}.application")),
                deployment_groups=tuple(
                    _str_list(item.get("deployment_group", []), f"{key}.deployment_group")
                ),
                pipelines=tuple(_str_list(item.get("pipeline", []), f"{key}.pipeline")),
                statuses=_statuses(item, key),
                accounts=_account_ids(item.get("account", []), f"{key}.account", accounts),
                regions=_regions(item.get("region", []), f"{key}.region"),
            )
        )
    return tuple(routes)


def _statuses(item: Mapping[str, Any], key: str) -> tuple[Status, ...]:
    statuses = []
    for name in _str_list(item.get("status", []), f"{key}.status"):
        try:
            statuses.append(Status(name.upper()))
        except ValueError:
            raise ConfigError(
                f"{key}.status: {name!r} is not a status "
                f"(one of {', '.join(s.value for s in Status)})"
            ) from None
    return tuple(statuses)


# --- [[accounts]] ------------------------------------------------------------------------------


def _regions(value: object, key: str) -> tuple[str, ...]:
    """Region names ("eu-west-1"), each matched whole."""
    regions = tuple(_str_list(value, key))
    for region in regions:
        if not is_region_name(region):
            raise ConfigError(f"{key}: {region!r} is not an AWS region name (like eu-west-1)")
    return regions


def _account_ids(value: object, key: str, accounts: tuple[Account, ...]) -> tuple[str, ...]:
    """Account matchers: a 12-digit id, or the name of an `[[accounts]]` entry (as its id)."""
    ids = []
    for given in _str_list(value, key):
        named = next((a for a in accounts if given.lower() == a.name.lower()), None)
        if named is not None:
            ids.append(named.id)
        elif is_account_id(given):
            ids.append(given)
        else:
            raise ConfigError(
                f"{key}: {given!r} is neither a 12-digit account id nor the name of an "
                "[[accounts]] entry"
            )
    return tuple(ids)


def _account(where: str, item: Mapping[str, Any]) -> Account:
    _only(item, f"{where}.", {"id", "name", "role_arn", "regions", "external_id"})
    account_id = _required(item, where, "id")
    if not is_account_id(account_id):
        raise ConfigError(f"{where}.id: {account_id!r} is not a 12-digit AWS account id")
    name = _required(item, where, "name")
    if not _ACCOUNT_NAME.fullmatch(name):
        raise ConfigError(
            f"{where}.name: {name!r} must start with a letter and hold at most 40 letters, "
            "digits, '.', '_' or '-'"
        )
    role_arn = _str(item.get("role_arn", ""), f"{where}.role_arn")
    owner = _ROLE_ARN.fullmatch(role_arn) if role_arn else None
    if role_arn and owner is None:
        raise ConfigError(
            f"{where}.role_arn: {role_arn!r} is not an IAM role ARN "
            "(arn:aws:iam::123456789012:role/NAME)"
        )
    if owner is not None and owner.group(1) != account_id:
        raise ConfigError(
            f"{where}.role_arn: the role is in account {owner.group(1)}, not in {account_id} "
            f"({where}.id): deploybot assumes a role of the account it reads"
        )
    external_id = _str(item.get("external_id", ""), f"{where}.external_id")
    if external_id and not _EXTERNAL_ID.fullmatch(external_id):
        raise ConfigError(
            f"{where}.external_id: must be 2 to 1224 letters, digits or any of _+=,.@:/-"
        )
    if external_id and not role_arn:
        raise ConfigError(f"{where}.external_id: needs role_arn (it is sent with sts:AssumeRole)")
    regions = tuple(dict.fromkeys(_regions(item.get("regions", []), f"{where}.regions")))
    if not role_arn and len(regions) > 1:
        raise ConfigError(f"{where}.regions: {OWN_REGION_ONLY}")
    return Account(
        id=account_id,
        name=name,
        role_arn=role_arn,
        regions=regions,
        external_id=external_id,
    )


def _accounts(value: object) -> tuple[Account, ...]:
    """`[[accounts]]`: ids and names unique; one entry at most without role_arn (the hub's)."""
    accounts: list[Account] = []
    for where, item in _array_of_tables(value, "accounts"):
        account = _account(where, item)
        for other in accounts:
            if other.id == account.id:
                raise ConfigError(f"{where}.id: {account.id} is configured twice")
            if other.name.lower() == account.name.lower():
                raise ConfigError(f"{where}.name: {account.name!r} is used twice")
        if not account.role_arn and any(not a.role_arn for a in accounts):
            raise ConfigError(
                f"{where}.role_arn: is required: only one account (deploybot's own) may go "
                "without a role to assume"
            )
        accounts.append(account)
    return tuple(accounts)


def _sites(table: Mapping[str, Any]) -> dict[str, str]:
    sites = {}
    for name, url in table.items():
        if not isinstance(url, str) or split_url(url) is None:
            raise ConfigError(
                f"sites.{name}: must be an http(s) URL with a plain host and no user info"
            )
        sites[name] = url
    return sites


def _notify(table: Mapping[str, Any]) -> dict[Scope, str]:
    rules = dict(DEFAULT_NOTIFY)
    scopes = {scope.value: scope for scope in Scope}
    _only(table, "notify.", set(scopes))
    for name, rule in table.items():
        if rule not in NOTIFY_CHOICES:
            raise ConfigError(f"notify.{name}: must be one of {', '.join(NOTIFY_CHOICES)}")
        rules[scopes[name]] = rule
    return rules


def _pipelines(value: object) -> tuple[PipelineMapping, ...]:
    mappings = []
    for key, item in _array_of_tables(value, "pipelines"):
        _only(item, f"{key}.", {"pipeline", "application", "deployment_group", "source_action"})
        pipeline = item.get("pipeline")
        if not isinstance(pipeline, str) or not pipeline:
            raise ConfigError(f"{key}.pipeline: is required (a pipeline name)")
        source_action = item.get("source_action", "")
        if not isinstance(source_action, str):
            raise ConfigError(f"{key}.source_action: must be a string (a source action name)")
        mappings.append(
            PipelineMapping(
                pipeline=pipeline,
                applications=tuple(_str_list(item.get("application", []), f"{key}.application")),
                deployment_groups=tuple(
                    _str_list(item.get("deployment_group", []), f"{key}.deployment_group")
                ),
                source_action=source_action,
            )
        )
    return tuple(mappings)


def _number(
    table: Mapping[str, Any],
    key: str,
    default: float,
    low: float,
    high: float,
    *,
    prefix: str = "enrich.",
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{prefix}{key}: must be a number from {low:g} to {high:g}")
    return float(value)


def _status(table: Mapping[str, Any]) -> StatusSettings:
    """The `[status]` table's paging and refresh keys (`pipelines` is read with the rest)."""
    page_size = table.get("page_size", DEFAULT_PAGE_SIZE)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 25:
        raise ConfigError("status.page_size: must be a whole number from 1 to 25")
    return StatusSettings(
        page_size=page_size,
        fresh_seconds=_number(
            table, "fresh_seconds", DEFAULT_FRESH_SECONDS, 0, 86400, prefix="status."
        ),
        backfill_seconds=_number(
            table, "backfill_seconds", DEFAULT_BACKFILL_SECONDS, 0, 25, prefix="status."
        ),
    )


def _sweep(table: Mapping[str, Any]) -> SweepSettings:
    """The `[sweep]` table."""
    _only(table, "sweep.", {"after_minutes", "stuck_after_minutes", "stuck_factor", "seconds"})

    def number(key: str, default: float, low: float, high: float) -> float:
        return _number(table, key, default, low, high, prefix="sweep.")

    return SweepSettings(
        after_minutes=number("after_minutes", DEFAULT_SWEEP_AFTER_MINUTES, 1, 1440),
        stuck_after_minutes=number("stuck_after_minutes", 0, 0, 10080),
        stuck_factor=number("stuck_factor", DEFAULT_STUCK_FACTOR, 1, 100),
        seconds=number("seconds", DEFAULT_SWEEP_SECONDS, 1, 25),
    )


def _enrich(table: Mapping[str, Any]) -> EnrichSettings:
    _only(
        table,
        "enrich.",
        {"enabled", "timeout_seconds", "cache_seconds", "discover", "max_pages", "source_action"},
    )
    for key in ("enabled", "discover"):
        if not isinstance(table.get(key, True), bool):
            raise ConfigError(f"enrich.{key}: must be true or false")
    max_pages = table.get("max_pages", DEFAULT_MAX_PAGES)
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or not 1 <= max_pages <= 20:
        raise ConfigError("enrich.max_pages: must be a whole number from 1 to 20")
    source_action = table.get("source_action", "")
    if not isinstance(source_action, str):
        raise ConfigError("enrich.source_action: must be a string (a source action name)")
    return EnrichSettings(
        enabled=table.get("enabled", True),
        timeout_seconds=_number(
            table, "timeout_seconds", DEFAULT_ENRICH_TIMEOUT_SECONDS, 0.1, MAX_TIMEOUT_SECONDS
        ),
        cache_seconds=_number(table, "cache_seconds", DEFAULT_CACHE_SECONDS, 0, 86400),
        discover=table.get("discover", True),
        max_pages=max_pages,
        source_action=source_action,
    )


def _ids(
    table: Mapping[str, Any],
    key: str,
    shape: re.Pattern[str],
    what: str,
    where: str = "rollback",
) -> tuple[str, ...]:
    """The ids under `key` of table `where`, each matching `shape` in full."""
    values = tuple(_str_list(table.get(key, []), f"{where}.{key}"))
    for value in values:
        if not shape.fullmatch(value):
            raise ConfigError(f"{where}.{key}: {value!r} is not {what}")
    return values


_PEOPLE: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("users", _USER, "a user id (U…/W…)"),
    ("usergroups", _USERGROUP, "a user group id (S…)"),
)


def _required(item: Mapping[str, Any], where: str, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: is required (a non-empty string)")
    return value


def _rollback_pipeline(where: str, item: Mapping[str, Any]) -> RollbackPipeline:
    _only(
        item,
        f"{where}.",
        {"pipeline", "environment", "strategy", "stage", "freeze_after_rollback"},
    )
    strategy = _str(item.get("strategy", DEFAULT_ROLLBACK_STRATEGY), f"{where}.strategy")
    if strategy not in ROLLBACK_STRATEGIES:
        raise ConfigError(f"{where}.strategy: must be one of {', '.join(ROLLBACK_STRATEGIES)}")
    stage = _str(item.get("stage", ""), f"{where}.stage")
    if strategy == "stage" and not stage:
        raise ConfigError(f'{where}.stage: is required for strategy = "stage"')
    if stage and not _STAGE_NAME.fullmatch(stage):
        raise ConfigError(f"{where}.stage: {stage!r} is not a CodePipeline stage name")
    freeze = item.get("freeze_after_rollback", False)
    if not isinstance(freeze, bool):
        raise ConfigError(f"{where}.freeze_after_rollback: must be true or false")
    if freeze and strategy != "stage":
        # A re-run must itself pass the transition into the deploy stage: closed first, it
        # would hold the rollback too; closed later, it races the next push.
        raise ConfigError(
            f'{where}.freeze_after_rollback: needs strategy = "stage" (a re-run of the whole '
            "pipeline must pass the transition a freeze closes)"
        )
    return RollbackPipeline(
        pipeline=_required(item, where, "pipeline"),
        environment=_str(item.get("environment", ""), f"{where}.environment"),
        strategy=strategy,
        stage=stage,
        freeze_after_rollback=freeze,
    )


def _rollback(table: Mapping[str, Any]) -> RollbackSettings:
    _only(table, "rollback.", {"pipelines", "deployment_groups", "users", "usergroups", "channels"})
    pipelines = []
    for where, item in _array_of_tables(table.get("pipelines", []), "rollback.pipelines"):
        pipelines.append(_rollback_pipeline(where, item))
    groups = []
    for where, item in _array_of_tables(
        table.get("deployment_groups", []), "rollback.deployment_groups"
    ):
        _only(item, f"{where}.", {"application", "deployment_group", "environment"})
        groups.append(
            RollbackGroup(
                application=_required(item, where, "application"),
                deployment_group=_required(item, where, "deployment_group"),
                environment=_str(item.get("environment", ""), f"{where}.environment"),
            )
        )
    return RollbackSettings(
        pipelines=tuple(pipelines),
        deployment_groups=tuple(groups),
        users=_ids(table, "users", _USER, "a user id (U…/W…)"),
        usergroups=_ids(table, "usergroups", _USERGROUP, "a user group id (S…)"),
        channels=_ids(table, "channels", _CHANNEL_ID, "a channel id (C…/G…)"),
    )


def _duration(value: object, key: str) -> float:
    """Seconds from "90m", "1h", "1h30m", "2d" (or a whole number of minutes); "off" is 0."""
    if value in ("off", 0):
        return 0.0
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10080:
        return value * 60.0
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise ConfigError(
            f'{key}: must be a duration like "30m", "1h" or "1h30m" (or "off"), or minutes'
        )
    counts = (int(n or 0) for n in match.groups())
    return float(sum(n * unit for n, unit in zip(counts, _DURATION_UNITS, strict=True)))


def _approval_pipeline(where: str, item: Mapping[str, Any]) -> ApprovalPipeline:
    _only(item, f"{where}.", {"pipeline", "users", "usergroups"})
    people = {
        key: _ids(item, key, shape, what, where) if key in item else None
        for key, shape, what in _PEOPLE
    }
    return ApprovalPipeline(
        pipeline=_required(item, where, "pipeline"),
        users=people["users"],
        usergroups=people["usergroups"],
    )


def _approvals(table: Mapping[str, Any]) -> ApprovalSettings:
    _only(
        table,
        "approvals.",
        {"users", "usergroups", "channels", "pipelines", "allow_self_approval", "remind_after"},
    )
    self_approval = table.get("allow_self_approval", False)
    if not isinstance(self_approval, bool):
        raise ConfigError("approvals.allow_self_approval: must be true or false")
    entries = _array_of_tables(table.get("pipelines", []), "approvals.pipelines")
    return ApprovalSettings(
        users=_ids(table, "users", _USER, "a user id (U…/W…)", "approvals"),
        usergroups=_ids(table, "usergroups", _USERGROUP, "a user group id (S…)", "approvals"),
        channels=_ids(table, "channels", _CHANNEL_ID, "a channel id (C…/G…)", "approvals"),
        pipelines=tuple(_approval_pipeline(where, item) for where, item in entries),
        allow_self_approval=self_approval,
        remind_after_seconds=_duration(table.get("remind_after", "1h"), "approvals.remind_after"),
    )


def _release(
    table: Mapping[str, Any], people: Mapping[str, Any], env: Mapping[str, str]
) -> ReleaseSettings:
    """The `[release]` table, the `[people]` map and the GitHub environment."""
    _only(
        table,
        "release.",
        {"enabled", "commits_shown", "max_commits", "lookup_emails", "gitlab_url"},
    )
    for key in ("enabled", "lookup_emails"):
        if not isinstance(table.get(key, True), bool):
            raise ConfigError(f"release.{key}: must be true or false")
    shown = table.get("commits_shown", DEFAULT_COMMITS_SHOWN)
    if isinstance(shown, bool) or not isinstance(shown, int) or not 0 <= shown <= MAX_COMMITS_SHOWN:
        raise ConfigError(
            f"release.commits_shown: must be a whole number from 0 to {MAX_COMMITS_SHOWN}"
        )
    most = table.get("max_commits", DEFAULT_MAX_COMMITS)
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= MAX_MAX_COMMITS:
        raise ConfigError(
            f"release.max_commits: must be a whole number from 1 to {MAX_MAX_COMMITS}"
        )
    gitlab_url = _str(table.get("gitlab_url", ""), "release.gitlab_url")
    if gitlab_url and not _URL.fullmatch(gitlab_url):
        raise ConfigError("release.gitlab_url: must be an http(s) URL")
    api_url = env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL
    if not _URL.fullmatch(api_url):
        raise ConfigError(f"GITHUB_API_URL: {api_url!r} is not an http(s) URL")
    return ReleaseSettings(
        enabled=table.get("enabled", True),
        commits_shown=shown,
        max_commits=most,
        lookup_emails=table.get("lookup_emails", True),
        gitlab_url=gitlab_url.rstrip("/"),
        people=_people(people),
        github_api_url=api_url.rstrip("/"),
        github_token=env.get("GITHUB_TOKEN", ""),
        github_token_parameter=env.get("GITHUB_TOKEN_PARAMETER", ""),
    )


def _people(table: Mapping[str, Any]) -> dict[str, str]:
    """`[people]`: git e-mail or login -> Slack user id, keys compared case-insensitively."""
    people: dict[str, str] = {}
    for name, user in table.items():
        if not _PERSON.fullmatch(name):
            raise ConfigError(f"people.{name}: is not a git e-mail or login (no spaces)")
        if not isinstance(user, str) or not _USER.fullmatch(user):
            raise ConfigError(f"people.{name}: must be a Slack user id (U…/W…)")
        key = map_key(name)
        if people.get(key, user) != user:
            raise ConfigError(f"people.{name}: is given twice with different user ids")
        people[key] = user
    return people


# --- command-line overrides -------------------------------------------------------------------


def with_channel(config: Config, channel: str, key: str) -> Config:
    """`config` with every message sent to `channel`, whatever the routes say.

    `key` names where the channel came from ("--channel") in the error for a malformed one.
    """
    return replace(config, default_channel=_channel(channel, key), routes=())
