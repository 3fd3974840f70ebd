"""A stateful stand-in for CodePipeline and CodeDeploy, built from their API references.

`World` keeps pipelines (definitions, executions, their action executions, stage transitions)
and deployment groups (deployments, revisions), and answers the operations deploybot uses as
the APIs do; `World.serve()` puts it behind tests/fake_aws.py's HTTP server, so real botocore
clients (serializing and parsing with their service models) talk to it over loopback. Every
answer is also checked against botocore's output shape: a fake that drifts from AWS fails.

What comes from the API references (CodePipeline API Reference, CodeDeploy API Reference, the
CodePipeline User Guide pages on source revision overrides, stage rollback and transitions):
- ListPipelineExecutions and ListActionExecutions list the newest first, `maxResults` up to 100,
  then `nextToken`; ListPipelineExecutions' summaries carry `sourceRevisions`, `trigger`,
  `executionMode`, `executionType` (STANDARD | ROLLBACK) and `rollbackMetadata`.
- StartPipelineExecution: every `sourceRevisions` entry must name a source action of the
  pipeline (ValidationException otherwise); a source left out runs its newest revision. Its
  `clientRequestToken` is an idempotency token: CodePipeline's reference only says it identifies
  "a unique execution request"; the fake follows AWS's general idempotency rule ("Ensuring
  idempotency", EC2 API reference): the same token with the same parameters returns what the
  first request started and starts nothing; with other parameters it is refused.
- RollbackStage: not the source stage, the target must have succeeded in the stage, must not be
  a ROLLBACK execution, not in PARALLEL mode (UnableToRollbackStageException); a stage that is
  running refuses another rollback (UnableToRollbackStageException: "the stage is currently
  running"). It starts a new ROLLBACK execution. It has no token.
- DisableStageTransition / EnableStageTransition: `reason` 1-300 characters of
  [a-zA-Z0-9!@ ()*.?-] (ValidationException otherwise); GetPipelineState shows
  `inboundTransitionState`.
- CreateDeployment: a group with an active deployment refuses another
  (DeploymentLimitExceededException). It has no token. ListDeployments filters by
  `createTimeRange`; BatchGetDeployments takes at most 25 ids (BatchLimitExceededException).
- PutApprovalResult (CodePipeline API reference): pipeline, stage and action must exist
  (PipelineNotFoundException, StageNotFoundException, ActionNotFoundException); the token must
  be the open request's ([0-9a-f]{8}-...-[0-9a-f]{12}, ValidationException otherwise): an
  answered request gives ApprovalAlreadyCompletedException ("The approval action has already
  been approved or rejected."), a token that is not the current one InvalidApprovalTokenException
  ("The approval request already received a response or has expired."); summary at most 512
  characters. It answers `approvedAt`. GetPipelineState shows an open request's token in
  `actionStates[].latestExecution.token`.
- ContinueDeployment (CodeDeploy API reference): READY_WAIT needs a blue/green deployment in
  status Ready (DeploymentIsNotInReadyStateException), TERMINATION_WAIT one whose original
  instances wait for termination (InvalidDeploymentWaitTypeException otherwise; the reference
  lists it without saying when, this is where the fake uses it); a finished deployment gives
  DeploymentAlreadyCompletedException, an in-place one UnsupportedActionForDeploymentTypeException.
  StopDeployment: DeploymentAlreadyCompletedException once finished; with autoRollbackEnabled
  the group rolls back (a new deployment, creator codeDeployRollback); it answers
  {status: Pending, statusMessage}. GetDeployment shows `deploymentStyle` and
  `instanceTerminationWaitTimeStarted`.

Faults, queued per operation with `fail(operation, kind)`: "lose" (the work is done, the
connection drops: the answer is lost), "late" (the work is done, the answer comes after the
client's read timeout), "5xx" (500 InternalFailure, nothing done), "throttle" (400
ThrottlingException, nothing done). `writes` counts the writes that reached the world.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from botocore.session import get_session
from botocore.validate import ParamValidator

from tests.fake_aws import FakeAws, Fault, Hangup, Late

PAGE = 100
BATCH_LIMIT = 25
_REASON = re.compile(r"[a-zA-Z0-9!@ \(\)\.\*\?\-]{1,300}")
_TOKEN = re.compile(r"[a-zA-Z0-9-]{1,128}")
_APPROVAL_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WRITES = frozenset(
    {
        "StartPipelineExecution",
        "RollbackStage",
        "DisableStageTransition",
        "EnableStageTransition",
        "CreateDeployment",
        "PutApprovalResult",
        "ContinueDeployment",
        "StopDeployment",
    }
)
_SERVICES = {
    "codepipeline": (
        "GetPipeline",
        "GetPipelineState",
        "GetPipelineExecution",
        "ListPipelineExecutions",
        "ListActionExecutions",
        "ListPipelines",
        "StartPipelineExecution",
        "RollbackStage",
        "DisableStageTransition",
        "EnableStageTransition",
        "PutApprovalResult",
    ),
    "codedeploy": (
        "GetDeployment",
        "GetDeploymentGroup",
        "ListDeployments",
        "BatchGetDeployments",
        "GetApplicationRevision",
        "CreateDeployment",
        "ListDeploymentTargets",
        "ContinueDeployment",
        "StopDeployment",
    ),
}
_PROVIDERS = {
    "Source": "CodeStarSourceConnection",
    "Build": "CodeBuild",
    "Deploy": "CodeDeploy",
    "Approval": "Manual",
}


@dataclass
class Action:
    name: str
    category: str  # Source, Build, Deploy, Test, Approval
    provider: str = ""
    configuration: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.provider = self.provider or _PROVIDERS.get(self.category, "CodeBuild")


@dataclass
class Execution:
    id: str
    pipeline: str
    status: str  # InProgress, Succeeded, Failed, Stopped, Superseded
    start: float
    updated: float
    revisions: dict[str, str]  # source action -> revision
    stages: dict[str, str]  # stage -> Succeeded | Failed | InProgress (only the stages reached)
    trigger: str = "Webhook"
    trigger_detail: str = ""
    kind: str = "STANDARD"  # or ROLLBACK
    rollback_target: str = ""
    token: str = ""
    request: tuple[Any, ...] = ()
    deployment: str = ""  # the CodeDeploy deployment its Deploy action ran (its external id)


@dataclass
class Pipeline:
    name: str
    stages: list[tuple[str, list[Action]]]
    pipeline_type: str = "V2"
    mode: str = "SUPERSEDED"
    version: int = 1
    # stage -> inboundTransitionState
    transitions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stage(self, name: str) -> list[Action] | None:
        return next((actions for stage, actions in self.stages if stage == name), None)

    @property
    def sources(self) -> list[Action]:
        return [a for _, actions in self.stages for a in actions if a.category == "Source"]


@dataclass
class Approval:
    """The latest request of one approval action (what GetPipelineState shows of it)."""

    execution: str
    token: str
    status: str = "InProgress"  # Succeeded (approved), Failed (rejected)
    summary: str = ""
    changed: float = 0.0
    by: str = ""


@dataclass
class Deployment:
    id: str
    application: str
    group: str
    status: str
    revision: dict[str, Any]
    created: float
    completed: float | None = None
    description: str = ""
    creator: str = "user"
    blue_green: bool = False
    termination_wait: bool = False  # rerouted; the original instances wait to be terminated


@dataclass
class Group:
    application: str
    name: str
    auto_rollback: bool = False
    deployments: list[Deployment] = field(default_factory=list)


def source(name: str = "Source", provider: str = "CodeStarSourceConnection") -> Action:
    return Action(name, "Source", provider, {"FullRepositoryId": "acme/web", "BranchName": "main"})


def deploy(name: str = "Deploy", application: str = "web", group: str = "prod") -> Action:
    config = {"ApplicationName": application, "DeploymentGroupName": group}
    return Action(name, "Deploy", "CodeDeploy", config)


def gated(name: str, **extra: Any) -> Pipeline:
    """Source -> Build -> Approve (a manual approval) -> Deploy."""
    return Pipeline(
        name,
        [
            ("Source", [source()]),
            ("Build", [Action("Build", "Build")]),
            ("Approve", [Action("Release", "Approval", configuration={"CustomData": "Ship?"})]),
            ("Deploy", [deploy()]),
        ],
        **extra,
    )


def standard(name: str, *sources: Action, **extra: Any) -> Pipeline:
    """Source -> Build -> Deploy -> Test, the shape most pipelines have."""
    return Pipeline(
        name,
        [
            ("Source", list(sources) or [source()]),
            ("Build", [Action("Build", "Build")]),
            ("Deploy", [deploy()]),
            ("Test", [Action("Smoke", "Test")]),
        ],
        **extra,
    )


class World:
    """CodePipeline and CodeDeploy as the tests need them, answering like the APIs."""

    def __init__(self) -> None:
        self.pipelines: dict[str, Pipeline] = {}
        self.executions: list[Execution] = []  # oldest first
        self.groups: dict[tuple[str, str], Group] = {}
        self.heads: dict[str, str] = {}  # source action -> its newest revision
        self.approvals: dict[tuple[str, str, str], Approval] = {}  # (pipeline, stage, action)
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.late_seconds = 1.5
        # The API reference does not say when a summary's `sourceRevisions` appear; with this
        # set, a run's summary shows none while its source stage still runs (the pessimistic
        # reading: they are known once the source actions have run).
        self.revisions_after_source = False
        self.lock = threading.RLock()
        self._rng = random.Random(7)  # ids are the same on every run: snapshots stay put
        self.server: FakeAws | None = None
        self._validator = ParamValidator()
        self._models = {name: get_session().get_service_model(name) for name in _SERVICES}

    # --- setting the scene ---------------------------------------------------------------------

    def add(self, pipeline: Pipeline) -> Pipeline:
        self.pipelines[pipeline.name] = pipeline
        return pipeline

    def run(
        self,
        pipeline: str,
        revision: str,
        *,
        ago: float,
        minutes: float = 10,
        failed_at: str = "",
        running_at: str = "",
        **extra: Any,
    ) -> Execution:
        """An execution that started `ago` seconds ago, with every source at `revision`.

        It succeeds in every stage, or fails in `failed_at` (the stages after it never run),
        or still runs `running_at`.
        """
        definition = self.pipelines[pipeline]
        stages: dict[str, str] = {}
        status = "Succeeded"
        for stage, _ in definition.stages:
            if stage == failed_at:
                stages[stage], status = "Failed", "Failed"
                break
            if stage == running_at:
                stages[stage], status = "InProgress", "InProgress"
                break
            stages[stage] = "Succeeded"
        start = time.time() - ago
        execution = Execution(
            id=extra.pop("id", None) or self._execution_id(),
            pipeline=pipeline,
            status=status,
            start=start,
            updated=start + minutes * 60 if status != "InProgress" else start + 1,
            revisions={s.name: revision for s in definition.sources},
            stages=stages,
            **extra,
        )
        with self.lock:
            self.executions.append(execution)
            self.executions.sort(key=lambda e: e.start)
        return execution

    def group(self, application: str, name: str, *, auto_rollback: bool = False) -> Group:
        found = self.groups.setdefault((application, name), Group(application, name))
        found.auto_rollback = auto_rollback
        return found

    def deployment(
        self,
        application: str,
        group: str,
        revision: dict[str, Any],
        *,
        ago: float,
        status: str = "Succeeded",
        minutes: float = 5,
        **extra: Any,
    ) -> Deployment:
        created = time.time() - ago
        done = created + minutes * 60 if status not in ("Created", "InProgress") else None
        item = Deployment(
            id=extra.pop("id", None) or self._deployment_id(),
            application=application,
            group=group,
            status=status,
            revision=revision,
            created=created,
            completed=done,
            **extra,
        )
        with self.lock:
            key = (application, group)
            self.groups.setdefault(key, Group(application, group)).deployments.append(item)
        return item

    def finish(self, execution_id: str, status: str = "Succeeded") -> None:
        with self.lock:
            execution = self._execution(execution_id)
            execution.status = status
            execution.updated = time.time()
            stages = (
                list(execution.stages)
                if execution.kind == "ROLLBACK"
                else [stage for stage, _ in self.pipelines[execution.pipeline].stages]
            )
            execution.stages = dict.fromkeys(stages, status)

    def await_approval(self, execution_id: str, stage: str, action: str) -> str:
        """The execution now waits in `stage` for approval `action`: its new request's token."""
        with self.lock:
            execution = self._execution(execution_id)
            execution.status = "InProgress"
            execution.stages = {k: v for k, v in execution.stages.items() if k != stage}
            execution.stages[stage] = "InProgress"
            token = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            key = (execution.pipeline, stage, action)
            self.approvals[key] = Approval(execution_id, token, changed=time.time())
            return token

    def answer(self, pipeline: str, stage: str, action: str, status: str, by: str) -> None:
        """Someone answers the open request in the console."""
        with self.lock:
            approval = self.approvals[(pipeline, stage, action)]
            approval.status, approval.by, approval.changed = status, by, time.time()

    def fail(self, operation: str, *kinds: str) -> None:
        """Queue faults for the next calls of `operation`: lose, late, 5xx, throttle."""
        self.faults[operation].extend(kinds)

    def started(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every `operation` write that reached the world."""
        return [params for name, params in self.writes if name == operation]

    def _execution_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _deployment_id(self) -> str:
        return "d-" + "".join(self._rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=9))

    def _execution(self, execution_id: str) -> Execution:
        found = next((e for e in self.executions if e.id == execution_id), None)
        if found is None:
            raise Fault(400, "PipelineExecutionNotFoundException", f"{execution_id} not found")
        return found

    def _pipeline(self, name: str) -> Pipeline:
        if name not in self.pipelines:
            raise Fault(400, "PipelineNotFoundException", f"pipeline {name} not found")
        return self.pipelines[name]

    # --- serving -------------------------------------------------------------------------------

    def answers(self) -> dict[str, Any]:
        """What the world answers, operation by operation (tests/fake_aws.py serves them)."""
        return {op: self._answer(service, op) for service, ops in _SERVICES.items() for op in ops}

    def serve(self) -> FakeAws:
        """Start answering over HTTP (and keep the server in `server`)."""
        self.server = FakeAws.start(self.answers())
        return self.server

    def calls(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every `operation` request the server received, answered or not."""
        assert self.server is not None
        return [c.params for c in self.server.calls if c.operation == operation]

    def _answer(self, service: str, operation: str) -> Any:
        method = getattr(self, f"_{_snake(operation)}")
        shape = self._models[service].operation_model(operation).output_shape

        def answer(params: dict[str, Any]) -> dict[str, Any]:
            with self.lock:
                fault = self.faults[operation].popleft() if self.faults[operation] else ""
            if fault == "5xx":
                raise Fault(500, "InternalFailure", "We encountered an internal error.")
            if fault == "throttle":
                raise Fault(400, "ThrottlingException", "Rate exceeded")
            with self.lock:
                body = method(params)
                if operation in WRITES:
                    self.writes.append((operation, params))
            if shape is not None:
                report = self._validator.validate(body, shape)
                assert not report.has_errors(), f"{operation}: {report.generate_report()}"
            if fault == "lose":
                raise Hangup
            if fault == "late":
                raise Late(body, self.late_seconds)
            return body

        return answer

    # --- CodePipeline ----------------------------------------------------------------------------

    def _get_pipeline(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(params["name"])
        stages = [
            {
                "name": stage,
                "actions": [
                    {
                        "name": a.name,
                        "actionTypeId": {
                            "category": a.category,
                            "owner": "AWS",
                            "provider": a.provider,
                            "version": "1",
                        },
                        "configuration": a.configuration,
                        "outputArtifacts": [{"name": f"{a.name}Output"}],
                        "runOrder": 1,
                    }
                    for a in actions
                ],
            }
            for stage, actions in pipeline.stages
        ]
        return {
            "pipeline": {
                "name": pipeline.name,
                "roleArn": "arn:aws:iam::123456789012:role/pipeline",
                "artifactStore": {"type": "S3", "location": "artifacts"},
                "stages": stages,
                "version": pipeline.version,
                "pipelineType": pipeline.pipeline_type,
                "executionMode": pipeline.mode,
            },
            "metadata": {
                "pipelineArn": f"arn:aws:codepipeline:eu-west-1:123456789012:{pipeline.name}"
            },
        }

    def _list_pipelines(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pipelines": [{"name": name, "version": 1} for name in self.pipelines]}

    def _summary(self, e: Execution) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "pipelineExecutionId": e.id,
            "status": e.status,
            "startTime": e.start,
            "lastUpdateTime": e.updated,
            "sourceRevisions": [
                {"actionName": action, "revisionId": rev, "revisionSummary": f"commit {rev[:7]}"}
                for action, rev in e.revisions.items()
                if not self._source_running(e)
            ],
            "trigger": {"triggerType": e.trigger, "triggerDetail": e.trigger_detail},
            "executionMode": self.pipelines[e.pipeline].mode,
            "executionType": e.kind,
        }
        if e.rollback_target:
            summary["rollbackMetadata"] = {"rollbackTargetPipelineExecutionId": e.rollback_target}
        return summary

    def _source_running(self, e: Execution) -> bool:
        first = self.pipelines[e.pipeline].stages[0][0]
        return self.revisions_after_source and e.stages.get(first) == "InProgress"

    def _list_pipeline_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        self._pipeline(params["pipelineName"])
        listed = [e for e in reversed(self.executions) if e.pipeline == params["pipelineName"]]
        stage = ((params.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
        if stage:
            listed = [e for e in listed if e.stages.get(stage) == "Succeeded"]
        page, token = _page(listed, params)
        return {"pipelineExecutionSummaries": [self._summary(e) for e in page], **token}

    def _get_pipeline_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        self._pipeline(params["pipelineName"])
        e = self._execution(params["pipelineExecutionId"])
        summary = self._summary(e)
        return {
            "pipelineExecution": {
                "pipelineName": e.pipeline,
                "pipelineVersion": 1,
                "pipelineExecutionId": e.id,
                "status": e.status,
                "artifactRevisions": [
                    {
                        "name": f"{action}Output",
                        "revisionId": rev,
                        "revisionSummary": f"commit {rev[:7]}",
                    }
                    for action, rev in e.revisions.items()
                ],
                "trigger": summary["trigger"],
                "executionMode": summary["executionMode"],
                "executionType": e.kind,
                **(
                    {"rollbackMetadata": summary["rollbackMetadata"]}
                    if "rollbackMetadata" in summary
                    else {}
                ),
            }
        }

    def _action_details(self, e: Execution) -> list[dict[str, Any]]:
        pipeline = self.pipelines[e.pipeline]
        details = []
        for n, (stage, status) in enumerate(e.stages.items()):
            for action in pipeline.stage(stage) or []:
                result: dict[str, Any] = {"externalExecutionId": f"{e.id[:8]}-{action.name}"}
                if action.category == "Source":
                    result["externalExecutionId"] = e.revisions.get(action.name, "")
                if action.category == "Deploy" and e.deployment:
                    result["externalExecutionId"] = e.deployment
                details.append(
                    {
                        "pipelineExecutionId": e.id,
                        "actionExecutionId": f"{e.id}-{stage}-{action.name}",
                        "pipelineVersion": 1,
                        "stageName": stage,
                        "actionName": action.name,
                        "startTime": e.start + n,
                        "lastUpdateTime": e.start + n + 0.5,
                        "status": status,
                        "input": {
                            "actionTypeId": {
                                "category": action.category,
                                "owner": "AWS",
                                "provider": action.provider,
                                "version": "1",
                            },
                            "configuration": action.configuration,
                        },
                        "output": {"executionResult": result},
                    }
                )
        return details

    def _list_action_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        self._pipeline(params["pipelineName"])
        only = (params.get("filter") or {}).get("pipelineExecutionId")
        details = [
            d
            for e in self.executions
            if e.pipeline == params["pipelineName"] and (not only or e.id == only)
            for d in self._action_details(e)
        ]
        details.sort(key=lambda d: d["startTime"], reverse=True)
        page, token = _page(details, params)
        return {"actionExecutionDetails": page, **token}

    def _get_pipeline_state(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(params["name"])
        states = []
        for stage, actions in pipeline.stages:
            latest = next(
                (
                    e
                    for e in reversed(self.executions)
                    if e.pipeline == pipeline.name and stage in e.stages
                ),
                None,
            )
            state: dict[str, Any] = {
                "stageName": stage,
                "inboundTransitionState": pipeline.transitions.get(stage, {"enabled": True}),
                "actionStates": [self._action_state(pipeline.name, stage, a) for a in actions],
            }
            if latest is not None:
                state["latestExecution"] = {
                    "pipelineExecutionId": latest.id,
                    "status": latest.stages[stage],
                }
            states.append(state)
        return {"pipelineName": pipeline.name, "pipelineVersion": 1, "stageStates": states}

    def _action_state(self, pipeline: str, stage: str, action: Action) -> dict[str, Any]:
        state: dict[str, Any] = {"actionName": action.name}
        approval = self.approvals.get((pipeline, stage, action.name))
        if approval is not None:
            latest: dict[str, Any] = {
                "actionExecutionId": f"{approval.execution[:8]}-{action.name}",
                "status": approval.status,
                "lastStatusChange": approval.changed,
            }
            if approval.status == "InProgress":
                latest["token"] = approval.token
            else:
                latest["lastUpdatedBy"] = approval.by
                if approval.summary:
                    latest["summary"] = approval.summary
            state["latestExecution"] = latest
        return state

    def _put_approval_result(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(params["pipelineName"])
        actions = pipeline.stage(params["stageName"])
        if actions is None:
            raise Fault(400, "StageNotFoundException", f"stage {params['stageName']} not found")
        if not any(a.name == params["actionName"] for a in actions):
            raise Fault(400, "ActionNotFoundException", f"action {params['actionName']} not found")
        if (
            not _APPROVAL_TOKEN.fullmatch(params["token"])
            or len(params["result"].get("summary", "")) > 512
        ):
            raise Fault(400, "ValidationException", "1 validation error detected")
        approval = self.approvals.get((pipeline.name, params["stageName"], params["actionName"]))
        if approval is None or approval.token != params["token"]:
            raise Fault(
                400,
                "InvalidApprovalTokenException",
                "The approval request already received a response or has expired.",
            )
        if approval.status != "InProgress":
            raise Fault(
                400,
                "ApprovalAlreadyCompletedException",
                "The approval action has already been approved or rejected.",
            )
        approved = params["result"]["status"] == "Approved"
        approval.status = "Succeeded" if approved else "Failed"
        approval.summary = params["result"].get("summary", "")
        approval.by = "arn:aws:sts::123456789012:assumed-role/deploybot/deploybot"
        approval.changed = time.time()
        execution = self._execution(approval.execution)
        execution.stages[params["stageName"]] = approval.status
        if not approved:
            execution.status = "Failed"
        return {"approvedAt": approval.changed}

    def _start_pipeline_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(params["name"])
        token = params.get("clientRequestToken", "")
        if token and not _TOKEN.fullmatch(token):
            raise Fault(400, "ValidationException", "clientRequestToken is invalid")
        request = (params["name"], repr(params.get("sourceRevisions")))
        earlier = next((e for e in self.executions if token and e.token == token), None)
        if earlier is not None:
            if earlier.request != request:
                raise Fault(400, "ValidationException", "the token was used with other parameters")
            return {"pipelineExecutionId": earlier.id}  # idempotent: nothing new starts
        revisions = {s.name: self.heads.get(s.name, "f" * 40) for s in pipeline.sources}
        for override in params.get("sourceRevisions") or []:
            action = next((s for s in pipeline.sources if s.name == override["actionName"]), None)
            if action is None:
                raise Fault(
                    400, "ValidationException", f"{override['actionName']} is not a source action"
                )
            revisions[action.name] = override["revisionValue"]
        return self._start(
            pipeline.name,
            revisions,
            pipeline.stages[0][0],
            trigger="StartPipelineExecution",
            trigger_detail="arn:aws:sts::123456789012:assumed-role/deploybot/deploybot",
            token=token,
            request=request,
        )

    def _start(
        self, pipeline: str, revisions: dict[str, str], stage: str, **extra: Any
    ) -> dict[str, Any]:
        """A new execution, running `stage` now."""
        now = time.time()
        execution = Execution(
            self._execution_id(),
            pipeline,
            "InProgress",
            now,
            now,
            revisions,
            {stage: "InProgress"},
            **extra,
        )
        self.executions.append(execution)
        return {"pipelineExecutionId": execution.id}

    def _rollback_stage(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._pipeline(params["pipelineName"])
        stage = params["stageName"]
        if pipeline.stage(stage) is None:
            raise Fault(400, "StageNotFoundException", f"stage {stage} not found")
        target = self._execution(params["targetPipelineExecutionId"])
        running = any(
            e.pipeline == pipeline.name and e.stages.get(stage) == "InProgress"
            for e in self.executions
        )
        why = (
            "a source stage cannot be rolled back"
            if stage == pipeline.stages[0][0]
            else "the target is a rollback execution"
            if target.kind == "ROLLBACK"
            else "the target did not succeed in the stage"
            if target.stages.get(stage) != "Succeeded"
            else "rollback is not available in PARALLEL mode"
            if pipeline.mode == "PARALLEL"
            else "the stage is currently running"
            if running
            else ""
        )
        if why:
            raise Fault(400, "UnableToRollbackStageException", f"Unable to roll back: {why}")
        return self._start(
            pipeline.name,
            dict(target.revisions),
            stage,
            trigger="ManualRollback",
            kind="ROLLBACK",
            rollback_target=target.id,
        )

    def _transition(self, params: dict[str, Any]) -> Pipeline:
        pipeline = self._pipeline(params["pipelineName"])
        if pipeline.stage(params["stageName"]) is None:
            raise Fault(400, "StageNotFoundException", f"stage {params['stageName']} not found")
        return pipeline

    def _disable_stage_transition(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._transition(params)
        if not _REASON.fullmatch(params.get("reason", "")):
            raise Fault(400, "ValidationException", "reason fails to satisfy its constraints")
        pipeline.transitions[params["stageName"]] = {
            "enabled": False,
            "disabledReason": params["reason"],
            "lastChangedBy": "arn:aws:sts::123456789012:assumed-role/deploybot/deploybot",
            "lastChangedAt": time.time(),
        }
        return {}

    def _enable_stage_transition(self, params: dict[str, Any]) -> dict[str, Any]:
        pipeline = self._transition(params)
        pipeline.transitions[params["stageName"]] = {
            "enabled": True,
            "lastChangedBy": "arn:aws:sts::123456789012:assumed-role/deploybot/deploybot",
            "lastChangedAt": time.time(),
        }
        return {}

    # --- CodeDeploy ------------------------------------------------------------------------------

    def _find_deployment(self, deployment_id: str) -> Deployment:
        for group in self.groups.values():
            for item in group.deployments:
                if item.id == deployment_id:
                    return item
        raise Fault(400, "DeploymentDoesNotExistException", f"{deployment_id} does not exist")

    def _info(self, item: Deployment) -> dict[str, Any]:
        info: dict[str, Any] = {
            "applicationName": item.application,
            "deploymentGroupName": item.group,
            "deploymentId": item.id,
            "status": item.status,
            "revision": item.revision,
            "createTime": item.created,
            "creator": item.creator,
            "description": item.description,
            "computePlatform": "Server",
            "deploymentStyle": {
                "deploymentType": "BLUE_GREEN" if item.blue_green else "IN_PLACE",
                "deploymentOption": "WITH_TRAFFIC_CONTROL",
            },
        }
        if item.blue_green:
            info["instanceTerminationWaitTimeStarted"] = item.termination_wait
        if item.completed is not None:
            info["completeTime"] = item.completed
        return info

    def _get_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": self._info(self._find_deployment(params["deploymentId"]))}

    def _group_of(self, params: dict[str, Any]) -> Group:
        key = (params["applicationName"], params["deploymentGroupName"])
        if key not in self.groups:
            raise Fault(400, "DeploymentGroupDoesNotExistException", f"{key[1]} does not exist")
        return self.groups[key]

    def _get_deployment_group(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_of(params)
        ordered = sorted(group.deployments, key=lambda d: d.created)
        info: dict[str, Any] = {
            "applicationName": group.application,
            "deploymentGroupName": group.name,
            "deploymentGroupId": f"{group.application}-{group.name}",
            "autoRollbackConfiguration": {
                "enabled": group.auto_rollback,
                "events": ["DEPLOYMENT_FAILURE"] if group.auto_rollback else [],
            },
            "computePlatform": "Server",
        }
        succeeded = [d for d in ordered if d.status == "Succeeded"]
        if succeeded:
            info["lastSuccessfulDeployment"] = _summary_of(succeeded[-1])
        if ordered:
            info["lastAttemptedDeployment"] = _summary_of(ordered[-1])
            info["targetRevision"] = ordered[-1].revision
        return {"deploymentGroupInfo": info}

    def _list_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_of(params)
        window = params.get("createTimeRange") or {}
        start, end = window.get("start", 0), window.get("end", float("inf"))
        listed = [d.id for d in reversed(group.deployments) if start <= d.created <= end]
        page, token = _page(listed, {**params, "maxResults": PAGE})
        return {"deployments": page, **token}

    def _batch_get_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        ids = params.get("deploymentIds") or []
        if len(ids) > BATCH_LIMIT:
            raise Fault(400, "BatchLimitExceededException", "The maximum number of ids is 25")
        return {"deploymentsInfo": [self._info(self._find_deployment(i)) for i in ids]}

    def _get_application_revision(self, params: dict[str, Any]) -> dict[str, Any]:
        revision = dict(params["revision"])
        if revision.get("revisionType") == "AppSpecContent":
            content = dict(revision.get("appSpecContent") or {})
            content.setdefault("content", "version: 0.0\nResources: []\n")
            revision["appSpecContent"] = content
        return {"applicationName": params["applicationName"], "revision": revision}

    def _create_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_of(params)
        active = next((d for d in group.deployments if d.status in ("Created", "InProgress")), None)
        if active is not None:
            raise Fault(
                400,
                "DeploymentLimitExceededException",
                f"The Deployment Group '{group.name}' already has an active Deployment "
                f"'{active.id}'",
            )
        item = Deployment(
            id=self._deployment_id(),
            application=group.application,
            group=group.name,
            status="InProgress",
            revision=params["revision"],
            created=time.time(),
            description=params.get("description", ""),
        )
        group.deployments.append(item)
        return {"deploymentId": item.id}

    def _list_deployment_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"targetIds": []}

    def _steerable(self, deployment_id: str) -> Deployment:
        item = self._find_deployment(deployment_id)
        if item.status in ("Succeeded", "Failed", "Stopped"):
            raise Fault(400, "DeploymentAlreadyCompletedException", "The deployment is complete.")
        return item

    def _continue_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        item = self._steerable(params["deploymentId"])
        if not item.blue_green:
            raise Fault(
                400,
                "UnsupportedActionForDeploymentTypeException",
                "A call was submitted that is not supported for the specified deployment type.",
            )
        wait = params.get("deploymentWaitType", "READY_WAIT")
        if wait == "READY_WAIT":
            if item.status != "Ready":
                raise Fault(
                    400,
                    "DeploymentIsNotInReadyStateException",
                    "The deployment does not have a status of Ready and can't continue yet.",
                )
            item.status, item.termination_wait = "InProgress", True
            return {}
        if not item.termination_wait:
            raise Fault(400, "InvalidDeploymentWaitTypeException", "The wait type is invalid.")
        item.status, item.termination_wait, item.completed = "Succeeded", False, time.time()
        return {}

    def _stop_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        item = self._steerable(params["deploymentId"])
        item.status, item.termination_wait, item.completed = "Stopped", False, time.time()
        if params.get("autoRollbackEnabled"):
            self.groups[(item.application, item.group)].deployments.append(
                Deployment(
                    id=self._deployment_id(),
                    application=item.application,
                    group=item.group,
                    status="InProgress",
                    revision=item.revision,
                    created=time.time(),
                    creator="codeDeployRollback",
                )
            )
        return {"status": "Pending", "statusMessage": "Stopping the deployment"}


def _summary_of(item: Deployment) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "deploymentId": item.id,
        "status": item.status,
        "createTime": item.created,
    }
    if item.completed is not None:
        summary["endTime"] = item.completed
    return summary


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` (newest first) and the nextToken of the next one, as the APIs page."""
    size = int(params.get("maxResults") or PAGE)
    start = int(params.get("nextToken") or 0)
    rest = {"nextToken": str(start + size)} if start + size < len(items) else {}
    return items[start : start + size], rest


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
