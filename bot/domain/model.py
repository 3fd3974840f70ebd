"""The domain model: what happened to a deployment, independent of how AWS reported it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Source(Enum):
    """The AWS service a notification came from."""

    CODEDEPLOY = "codedeploy"
    CODEPIPELINE = "codepipeline"
    OTHER = "other"


class Scope(Enum):
    """What a notification is about; the noise policy decides per scope."""

    PIPELINE = "pipeline"
    STAGE = "stage"
    ACTION = "action"
    DEPLOYMENT = "deployment"
    INSTANCE = "instance"
    APPROVAL = "approval"
    GENERIC = "generic"


class Status(Enum):
    """One vocabulary for CodeDeploy trigger, EventBridge and CodePipeline states."""

    CREATED = "CREATED"
    STARTED = "STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    READY = "READY"
    RESUMED = "RESUMED"
    STOPPING = "STOPPING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    SUPERSEDED = "SUPERSEDED"
    CANCELED = "CANCELED"
    ABANDONED = "ABANDONED"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        """True when nothing more will happen to the deployment or execution."""
        return self in _FINAL

    @property
    def is_failure(self) -> bool:
        """True for outcomes a team must look at."""
        return self in {Status.FAILED, Status.ABANDONED}


_FINAL = frozenset(
    {
        Status.SUCCEEDED,
        Status.FAILED,
        Status.STOPPED,
        Status.SUPERSEDED,
        Status.CANCELED,
        Status.ABANDONED,
        Status.SKIPPED,
    }
)


@dataclass(frozen=True, slots=True)
class Commit:
    """The source revision a deployment shipped."""

    sha: str
    title: str = ""
    body: str = ""
    author: str = ""
    branch: str = ""
    repository: str = ""
    commit_url: str = ""
    branch_url: str = ""
    confirmed: bool = True  # False when only the pipeline's latest source revision is known
    provider: str = ""  # where the repository lives: GitHub, GitLab, Bitbucket, CodeCommit, ...

    @property
    def short_sha(self) -> str:
        """The first 7 characters, as git shows them."""
        return self.sha[:7]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a deployment or action failed, as AWS states it."""

    code: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class InstanceCounts:
    """How many targets of a deployment are in each state."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    in_progress: int = 0
    pending: int = 0
    ready: int = 0

    @property
    def total(self) -> int:
        """Every target, whatever its state."""
        return (
            self.succeeded
            + self.failed
            + self.skipped
            + self.in_progress
            + self.pending
            + self.ready
        )


@dataclass(frozen=True, slots=True)
class RollbackInfo:
    """Set on a CodeDeploy deployment that rolls back another one."""

    triggering_deployment_id: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class RollbackRequest:
    """A rollback someone started from Slack, shown on the notifications of the run it started."""

    user: str  # Slack user id
    environment: str
    sha: str  # the commit rolled back to ("" when a CodeDeploy revision names none)
    target_id: str  # the execution or deployment rolled back to


@dataclass(frozen=True, slots=True)
class Approval:
    """A manual approval: what its request says, and who answered it from Slack.

    The token is what PutApprovalResult needs. It is kept in the store (from the legacy SNS
    approval message) and never shown, logged or put in a button.
    """

    token: str = field(default="", repr=False)
    expires_at: datetime | None = None
    external_link: str = ""  # the action's ExternalEntityLink: what to review
    custom_data: str = ""  # the action's CustomData: its author's words to the approver
    decision: str = ""  # "Approved" or "Rejected", when answered from Slack
    decided_by: str = ""  # the Slack user id who answered
    reason: str = ""  # the approver's comment, or why it was rejected


@dataclass(frozen=True, slots=True)
class FailedAction:
    """One failed pipeline action, from a notification's additionalAttributes or the API."""

    action: str
    info: str = ""
    url: str = ""  # the action's execution page (CodeBuild build, CodeDeploy deployment, ...)


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One lifecycle hook of a CodeDeploy instance."""

    name: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FailureDetail:
    """The first failed lifecycle event of a deployment target, with its log tail."""

    lifecycle_event: str
    target: str = ""
    script: str = ""
    error_code: str = ""
    message: str = ""
    log_tail: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who wrote a commit or started a run, as git or AWS names them (bot/domain/people.py).

    `slack_id` is set once the person maps to a workspace user: through [people] in the config,
    or Slack's users.lookupByEmail.
    """

    name: str = ""
    email: str = ""
    login: str = ""  # a GitHub login, an IAM user or role session name
    slack_id: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """One commit of a release diff."""

    sha: str
    title: str = ""
    author: Person = Person()
    url: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseDiff:
    """What changed between the revision that was live before a run and the one it ships.

    `base == head` is a redeploy ("no changes"). `count` is None when no provider API could list
    the commits: the compare link and `note` (why) are then all there is.
    """

    base: str  # the commit that was live before
    head: str  # the commit this run ships
    repository: str = ""
    compare_url: str = ""
    count: int | None = None  # commits in base..head (or head..base when `backwards`)
    changes: tuple[Change, ...] = ()  # newest first, the first few only
    authors: tuple[Person, ...] = ()  # who wrote them, most commits first (the first few)
    author_count: int = 0  # how many different people wrote them
    backwards: bool = False  # head is older than base: these commits are taken out
    complete: bool = True  # False when the list stops short of `count` commits
    note: str = ""  # why the commit list is missing or partial
    base_run: str = ""  # the execution or deployment that made `base` live

    @property
    def same(self) -> bool:
        """True for a redeploy of the revision that was live already."""
        return self.base == self.head


@dataclass(frozen=True, slots=True)
class StartedBy:
    """Who or what started a pipeline execution or deployment.

    `how` is AWS's own word: a pipeline trigger type (Webhook, StartPipelineExecution,
    CloudWatchEvent, ManualRollback, ...), a CodeDeploy creator (user, autoscaling,
    codeDeployRollback, ...), or "deploybot" for a rollback started from Slack.
    """

    how: str
    who: Person | None = None
    detail: str = ""  # the role, rule or webhook that AWS names


@dataclass(frozen=True, slots=True)
class Deployment:
    """One notification about a deployment, pipeline execution, stage, action or instance."""

    source: Source
    scope: Scope
    status: Status
    raw_status: str = ""
    region: str = ""
    account: str = ""
    account_name: str = ""  # what [[accounts]] calls the account (set when a message is built)
    event_id: str = ""  # SNS MessageId or EventBridge id: what makes a delivery unique
    application: str = ""
    deployment_group: str = ""
    deployment_id: str = ""
    pipeline: str = ""
    execution_id: str = ""
    pipeline_version: int = 0  # the pipeline's structure version, as a CodePipeline event says
    stage: str = ""
    action: str = ""
    instance_id: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    occurred_at: datetime | None = None  # when AWS emitted this notification
    instances: InstanceCounts | None = None
    error: ErrorInfo | None = None
    rollback: RollbackInfo | None = None
    commit: Commit | None = None
    trigger: str = ""  # who or what started a pipeline execution
    last_good: Execution | None = None  # on a failed execution: the newest successful one before
    requested: RollbackRequest | None = None  # set when deploybot started this run as a rollback
    external_url: str = ""  # the link CodePipeline gives for an action's execution
    summary: str = ""  # an action's summary, or a generic notification's text
    subject: str = ""  # SNS subject, shown for generic notifications
    failed_stage: str = ""
    failed_actions: tuple[FailedAction, ...] = ()
    lifecycle_events: tuple[LifecycleEvent, ...] = ()
    failure_details: tuple[FailureDetail, ...] = ()
    notes: tuple[str, ...] = field(default=())  # what enrichment could not find out, and why
    approval: Approval | None = None  # on a manual approval's events
    # A blue/green deployment waiting for a person: "READY_WAIT" (traffic not rerouted yet) or
    # "TERMINATION_WAIT" (rerouted; the original instances wait to be terminated).
    waiting: str = ""
    diff: ReleaseDiff | None = None  # what changed since the revision that was live before
    started_by: StartedBy | None = None  # who or what started the run

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Execution:
    """One pipeline execution: how it went, what it shipped, who or what started it."""

    execution_id: str
    status: Status
    started_at: datetime | None = None
    updated_at: datetime | None = None
    commit: Commit | None = None
    trigger: str = ""
    # When the status held, where that is not `updated_at` (events fold later running reports
    # of a retry into `updated_at`; the status keeps the time of the report it came from).
    status_at: datetime | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to the last update, once the execution is over."""
        if not self.status.is_final or self.started_at is None or self.updated_at is None:
            return None
        return max(0.0, (self.updated_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class StageState:
    """Where one stage of a pipeline stands; stages may hold different executions."""

    name: str
    status: Status | None = None  # None: the stage has never run
    execution_id: str = ""
    action: str = ""  # the action worth naming: the failed or running one
    detail: str = ""  # its error message or summary
    # Its inbound transition is disabled (frozen): by whom (an ARN) and why, as AWS says.
    frozen: bool = False
    frozen_by: str = ""
    frozen_reason: str = ""


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    """A pipeline's latest execution, its stages and its recent history (newest first)."""

    name: str
    region: str = ""
    latest: Execution | None = None
    stages: tuple[StageState, ...] = ()
    account: str = ""  # "" for deploybot's own account when its id is not known
    account_name: str = ""  # what [[accounts]] calls it
    executions: tuple[Execution, ...] = ()
    targets: tuple[tuple[str, str], ...] = ()  # (application, deployment group) it deploys to
    problem: AwsProblem | None = None  # why it could not be read just now (shown as one line)
    known: bool = True  # False: never read yet (no executions known, none read)


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """A CodeDeploy deployment group and its deployments, newest first."""

    application: str
    group: str
    region: str = ""
    deployments: tuple[Deployment, ...] = ()
    account: str = ""
    account_name: str = ""


@dataclass(frozen=True, slots=True)
class AwsProblem:
    """Why an AWS read failed, in terms a reader can act on."""

    kind: str  # "denied", "throttled", "timeout", "credentials" or "error"
    action: str  # the IAM action of the failed call, e.g. "codepipeline:GetPipelineState"
    message: str = ""  # what AWS said
    code: str = ""  # AWS's error code, when it answered with one
    # The request may have reached AWS and been carried out: the answer was lost after it was
    # sent (a read timeout, a dropped connection) or AWS failed with a 5xx. For a write, only
    # reading AWS can tell what happened.
    maybe_done: bool = False

    @property
    def reason(self) -> str:
        """A few words for a message's note: "access denied to codepipeline:GetPipeline"."""
        match self.kind:
            case "denied":
                return f"access denied to {self.action}"
            case "throttled":
                return f"throttled by AWS ({self.action})"
            case "timeout":
                return f"AWS did not answer ({self.action})"
            case "credentials":
                return "no AWS credentials"
        return f"{self.code or 'error'} from {self.action}"


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Every watched pipeline, the deployment groups no pipeline deploys to, what was unreadable."""

    pipelines: tuple[PipelineStatus, ...] = ()
    groups: tuple[GroupStatus, ...] = ()
    problems: tuple[AwsProblem, ...] = ()
    title: str = "Deployments"
    page: int = 0  # which page of the list this is (0: the first)
    offset: int = 0  # how many pipelines earlier pages showed
    has_more: bool = False  # a next page exists
    total: int = 0  # pipelines in the list, on every page
    unseen: int = 0  # pipelines not read yet, not on this page: looked up after this answer


@dataclass(frozen=True, slots=True)
class NotFound:
    """A /deploy-status name that matches nothing, with the closest names that exist."""

    name: str
    suggestions: tuple[str, ...] = ()


Lookup = StatusReport | PipelineStatus | GroupStatus | NotFound | AwsProblem


# Adds what AWS knows to an event (commit, failure reason); never raises (bot/enrich.py).
Enrich = Callable[[Deployment], Deployment]


@dataclass(frozen=True, slots=True)
class StageProgress:
    """One stage of a pipeline execution as far as its notifications tell."""

    name: str
    status: Status
    actions: tuple[Deployment, ...] = ()  # the latest event of each action, in start order


@dataclass(frozen=True, slots=True)
class View:
    """Everything known about one deployment or pipeline execution: what its message shows."""

    head: Deployment  # the execution or deployment as one event, with the overall status
    stages: tuple[StageProgress, ...] = ()
    deployments: tuple[Deployment, ...] = ()  # CodeDeploy deployments no action event names
    failures: tuple[Deployment, ...] = ()  # the latest event of each failed part, in time order
    approvals: tuple[Deployment, ...] = ()  # each manual approval, its request and answer merged
    waiting: tuple[Deployment, ...] = ()  # blue/green deployments waiting for a person
