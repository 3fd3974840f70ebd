"""`deploybot check`: is the configuration valid, is Slack reachable, is AWS access granted?

Each check says what it found and, when it fails, what to do about it; a check that could not
be made says so (`?`) instead of passing or failing. The I/O is Slack's Web API (auth.test,
conversations.info/list), one read call per configured AWS resource with your own
credentials, and, given the function's role, IAM's policy simulator on that role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import explain
from bot.aws.accounts import NoLookups, Places
from bot.domain.config import Config
from bot.domain.permissions import Need, Place, needs

# Context the template's conditions read (aws:RequestedRegion), for the policy simulator.
REGION_KEY = "aws:RequestedRegion"
SIMULATION_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the checklist: ok True (✓), False (✗) or None (could not check: ?)."""

    name: str
    ok: bool | None
    detail: str = ""
    fix: str = ""


def required_scopes(config: Config) -> dict[str, str]:
    """The bot scopes this configuration needs, each with what it is for."""
    scopes = {
        "chat:write": "posting notifications",
        "commands": "/deploy-status",
        "channels:read": "checking public channels",
        "groups:read": "checking private channels",
    }
    if config.store_backend != "none":
        scopes["channels:history"] = "finding a post whose answer was lost (public channels)"
        scopes["groups:history"] = "the same in private channels"
    if config.rollback.usergroups:
        scopes["usergroups:read"] = "rollback.usergroups"
    if config.release.enabled and config.release.lookup_emails:
        scopes["users:read"] = "required with users:read.email"
        scopes["users:read.email"] = "commit authors as Slack users (release.lookup_emails)"
    return scopes


def _channels(config: Config) -> list[str]:
    return list(dict.fromkeys([config.default_channel, *(r.channel for r in config.routes)]))


def _unreachable(config: Config, exc: Exception) -> Check:
    line = explain.slack_error("unreachable", api_url=config.slack_api_url)
    what, _, fix = line.partition(": ")
    return Check("Slack", False, f"{what} ({type(exc).__name__}: {exc})", fix)


def check_slack(config: Config, client: WebClient) -> Iterator[Check]:
    """The token works, has the scopes, and every configured channel can be posted to."""
    if not config.slack_bot_token:
        if config.slack_webhook_url:
            yield Check("Slack", True, "incoming webhook (its channel is fixed; no token checks)")
        else:
            yield Check(
                "Slack credentials",
                False,
                "no bot token and no webhook",
                "set SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_PARAMETER on AWS)",
            )
        return
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        fix = explain.slack_error(error).partition(": ")[2]
        yield Check("Slack token", False, f"auth.test answered {error}", fix)
        return
    except (SlackClientError, OSError) as exc:
        yield _unreachable(config, exc)
        return
    yield Check("Slack token", True, f"bot {auth.get('user_id')} in workspace {auth.get('team')}")
    scopes = {s.strip() for s in auth.headers.get("x-oauth-scopes", "").split(",") if s.strip()}
    yield _scopes_check(config, scopes)
    can_read = {"channels:read", "groups:read"} <= scopes
    for channel in _channels(config):
        yield _check_channel(
            config, client, channel, public_ok="chat:write.public" in scopes, can_read=can_read
        )


def _scopes_check(config: Config, scopes: set[str]) -> Check:
    missing = {s: why for s, why in required_scopes(config).items() if s not in scopes}
    if not missing:
        return Check("Slack scopes", True, ", ".join(sorted(scopes)))
    wanted = "; ".join(f"{scope} ({why})" for scope, why in missing.items())
    return Check("Slack scopes", False, f"missing {wanted}", explain.SCOPE_FIX)


def _find_channel(client: WebClient, channel: str) -> dict[str, Any] | None:
    if not channel.startswith("#"):
        return dict(client.conversations_info(channel=channel)["channel"])
    name = channel[1:]
    cursor = None
    for _ in range(50):  # 50 pages of 1000: a workspace larger than that is checked in part
        page = client.conversations_list(
            types="public_channel,private_channel",
            exclude_archived=True,
            limit=1000,
            cursor=cursor,
        )
        for found in page["channels"]:
            if found.get("name") == name:
                return dict(found)
        metadata: dict[str, str] = page.get("response_metadata") or {}
        cursor = metadata.get("next_cursor")
        if not cursor:
            break
    return None


def _check_channel(
    config: Config, client: WebClient, channel: str, *, public_ok: bool, can_read: bool
) -> Check:
    name = f"channel {channel}"
    if not can_read:
        return Check(name, None, "not verified: the app lacks channels:read and groups:read")
    try:
        info = _find_channel(client, channel)
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error != "channel_not_found":
            fix = explain.slack_error(error, channel)
            return Check(name, False, f"could not look it up: {error}", fix)
        info = None
    except (SlackClientError, OSError) as exc:
        return _unreachable(config, exc)
    if info is None:
        return Check(
            name,
            False,
            "not found, or private without the bot",
            f"create it, or invite the bot: /invite @deploybot in {channel}",
        )
    if info.get("is_archived"):
        return Check(name, False, "archived", "unarchive it or route elsewhere")
    if info.get("is_member"):
        return Check(name, True, "the bot is a member")
    if not info.get("is_private") and public_ok:
        return Check(name, True, "public; the bot posts with chat:write.public")
    return Check(name, False, "the bot is not a member", f"/invite @deploybot in {channel}")


def check_signing_secret(config: Config) -> Check:
    """The Slack door cannot verify requests without the signing secret."""
    if config.slack_signing_secret:
        return Check("Slack signing secret", True, "set")
    return Check(
        "Slack signing secret",
        False,
        "missing: /deploy-status and buttons answer 500",
        "set SLACK_SIGNING_SECRET (Basic Information → App Credentials)",
    )


def check_aws(config: Config, codepipeline: Any, codedeploy: Any) -> Iterator[Check]:
    """With your credentials: one read call per pipeline and deployment group the config names."""
    pipelines = list(
        dict.fromkeys([*(m.pipeline for m in config.pipelines), *config.watched_pipelines])
    )
    if config.enrich.discover or not pipelines:
        yield _attempt("list pipelines", codepipeline, "list_pipelines")
    for pipeline in pipelines:
        yield _attempt(f"pipeline {pipeline}", codepipeline, "get_pipeline", name=pipeline)
    yield from _group_reads(config, codedeploy)


def _group_reads(
    config: Config, codedeploy: Any, label: str = "", listed: set[str] | None = None
) -> Iterator[Check]:
    """One read per deployment group `[[pipelines]]` maps (with `listed`: of the pipelines
    listed in one account and region, where their groups live)."""
    for mapping in config.pipelines:
        if listed is not None and mapping.pipeline not in listed:
            continue
        for application in mapping.applications:
            for group in mapping.deployment_groups:
                yield _attempt(
                    f"{label}deployment group {application}/{group}",
                    codedeploy,
                    "get_deployment_group",
                    applicationName=application,
                    deploymentGroupName=group,
                )


# --- several accounts ----------------------------------------------------------------------


def _configured_pipelines(config: Config) -> list[str]:
    names = [*(m.pipeline for m in config.pipelines), *config.watched_pipelines]
    return list(dict.fromkeys([*names, *(p.pipeline for p in config.rollback.pipelines)]))


def check_accounts(config: Config, accounts: Places, role: str = "") -> Iterator[Check]:
    """With [[accounts]]: each account and region can be read (a spoke's role assumed, with
    your credentials), and one read per configured pipeline there works, and per deployment
    group `[[pipelines]]` maps to it; a configured pipeline no account lists is named.
    `role` is the function's role, when known."""
    wanted = _configured_pipelines(config)
    found: set[str] = set()
    assumed: set[str] = set()
    unread = 0  # places whose pipelines could not be listed
    for account, name, region in accounts.places():
        label = f"account {name or account or 'deploybot'} in {region}"
        entry = config.account(account) if account else None
        try:
            place = accounts.place(account, region)
        except NoLookups as exc:
            unread += 1
            if entry is not None and entry.id not in assumed:
                assumed.add(entry.id)
                yield _assume_failed(entry.name, entry.role_arn, exc, role)
            continue
        if entry is not None and entry.role_arn and entry.id not in assumed:
            assumed.add(entry.id)
            yield Check(f"account {entry.name}: role", True, f"assumed {entry.role_arn}")
        listed = _listed(label, place.codepipeline)
        if isinstance(listed, Check):
            unread += 1
            yield listed
            continue
        yield Check(f"{label}: list pipelines", True, f"{len(listed)} pipelines")
        for pipeline in (p for p in wanted if p in listed):
            found.add(pipeline)
            yield _attempt(
                f"{label}: pipeline {pipeline}", place.codepipeline, "get_pipeline", name=pipeline
            )
        yield from _group_reads(config, place.codedeploy, f"{label}: ", listed)
    for pipeline in (p for p in wanted if p not in found):
        yield Check(
            f"pipeline {pipeline}",
            None if unread else False,
            f"no account and region {'that could be read ' if unread else ''}lists it",
            "check the name, or add its account ([[accounts]]) or region (accounts.regions)",
        )


def check_own_region(config: Config, region: str, stack: str) -> Iterator[Check]:
    """deploybot's own account (the entry without role_arn) names no region but the one the
    function of `stack` runs in (`region`): the template lets its role read there alone."""
    own = next((a for a in config.accounts if not a.role_arn), None)
    if own is None or own.regions in ((), (region,)):
        return
    key = f"accounts[{config.accounts.index(own)}].regions"
    elsewhere = ", ".join(own.regions)
    yield Check(
        f"account {own.name}: regions",
        False,
        f"{key} names {elsewhere}, but the function of stack {stack} runs in {region}, "
        "the one region its role may read",
        f'set {key} to ["{region}"] or remove it; to read {elsewhere}, deploy spoke.yaml in '
        "this account and set role_arn (README 'Several accounts')",
    )


def _listed(label: str, codepipeline: Any) -> set[str] | Check:
    """Every pipeline name of one account and region, or the failed check saying why not."""
    from bot import aws

    try:
        return {str(p.get("name")) for p in aws.pages(codepipeline, "list_pipelines", "pipelines")}
    except aws.AwsError as exc:
        fix = explain.aws_fix(exc.problem, "the credentials you run this with")
        return Check(f"{label}: list pipelines", False, exc.problem.reason, fix)


def _assume_failed(name: str, role_arn: str, exc: NoLookups, role: str) -> Check:
    """A spoke role this check could not assume: ✗ when it runs as deploybot's own role (the
    trust is missing); ? otherwise, since the role trusts deploybot's role, not yours."""
    check = f"account {name}: role"
    problem = exc.problem
    if problem is None or problem.kind != "denied" or _runs_as(role):
        return Check(
            check,
            False,
            exc.reason,
            "deploy spoke.yaml in that account (README 'Several accounts')",
        )
    return Check(
        check,
        None,
        f"your credentials may not assume {role_arn} (AccessDenied): its trust policy names "
        "deploybot's role, not you",
        "run this check with credentials the role trusts (spoke.yaml's CheckerArns), or "
        "watch the notes on that account's messages",
    )


def _runs_as(role: str) -> bool:
    """Does this check run with the credentials of `role` (an assumed-role session of it)?"""
    from bot import aws

    if not role:
        return False
    try:
        caller = str(aws.call(aws.client("sts"), "get_caller_identity").get("Arn") or "")
    except aws.AwsError:
        return False
    name = role.rsplit("/", 1)[-1]
    return f":assumed-role/{name}/" in caller or caller == role


def _attempt(label: str, client: Any, operation: str, **params: Any) -> Check:
    """Make one read call; a refusal names the IAM action to grant."""
    from bot import aws

    try:
        aws.call(client, operation, **params)
    except aws.AwsError as exc:
        fix = explain.aws_fix(exc.problem, "the credentials you run this with")
        return Check(label, False, exc.problem.message or exc.problem.reason, fix)
    return Check(label, True, "readable" if params else "permitted")


# --- what the function's role may do ----------------------------------------------------------


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's outputs, {OutputKey: OutputValue} (FunctionRoleArn, FunctionName, ...)."""
    from bot import aws

    answer = aws.call(cloudformation, "describe_stacks", StackName=stack)
    return {
        str(output.get("OutputKey", "")): str(output.get("OutputValue", ""))
        for found in answer.get("Stacks", [])
        for output in found.get("Outputs", [])
    }


def place_of(role_arn: str, region: str) -> Place:
    """Partition and account from the role's ARN (arn:aws:iam::123456789012:role/name)."""
    parts = role_arn.split(":")
    return Place(partition=parts[1], region=region, account=parts[4])


class CannotSimulate(Exception):
    """The policy simulator could not be used; the checklist says why, once."""


def check_role(
    config: Config, iam: Any, role_arn: str, region: str, function: str = ""
) -> Iterator[Check]:
    """Simulate each action the config needs against the role's policies (and, with the
    `function`'s name, invoking itself)."""
    try:
        for need in needs(config, place_of(role_arn, region), function):
            yield _simulated(iam, role_arn, need, region)
    except CannotSimulate as exc:
        yield Check(
            "function role",
            None,
            f"could not simulate {role_arn}: {exc}",
            "grant yourself iam:SimulatePrincipalPolicy (read-only), or compare the role "
            "with README 'IAM permissions'",
        )


def _simulated(iam: Any, role_arn: str, need: Need, region: str) -> Check:
    decisions = _decisions(iam, role_arn, need, region)
    denied = [action for action in need.actions if decisions.get(action) != "allowed"]
    name = f"role may {need.what}"
    if not denied:
        return Check(name, True, f"{len(need.actions)} actions allowed")
    return Check(name, False, f"denied: {', '.join(denied)} on {need.resource}", need.grant)


def _decisions(iam: Any, role_arn: str, need: Need, region: str) -> dict[str, str]:
    """{action: "allowed" | "implicitDeny" | "explicitDeny"} for `need` (all pages)."""
    from bot import aws

    request: dict[str, Any] = {
        "PolicySourceArn": role_arn,
        "ActionNames": list(need.actions),
        "ContextEntries": [
            {"ContextKeyName": REGION_KEY, "ContextKeyValues": [region], "ContextKeyType": "string"}
        ],
        "MaxItems": SIMULATION_PAGE,
    }
    if need.resource != "*":
        request["ResourceArns"] = [need.resource]
    decisions: dict[str, str] = {}
    while True:
        try:
            page = aws.call(iam, "simulate_principal_policy", **request)
        except aws.AwsError as exc:
            raise CannotSimulate(explain.aws_problem(exc.problem)) from exc
        for result in page.get("EvaluationResults", []):
            decisions[str(result["EvalActionName"])] = str(result["EvalDecision"])
        if not page.get("IsTruncated"):
            return decisions
        request["Marker"] = page["Marker"]


def _role_checks(config: Config, role: str, stack: str, region: str) -> Iterator[Check]:
    from bot import aws

    if not role and not stack:
        yield Check(
            "function role",
            None,
            "not simulated",
            "pass --stack NAME (or --role ARN) to check what the deployed function may do",
        )
        return
    function = ""
    if not role:
        try:
            outputs = stack_outputs(aws.client("cloudformation"), stack)
        except aws.AwsError as exc:
            known = exc.problem.kind == "error"  # e.g. ValidationException: no such stack
            line = explain.aws_problem(exc.problem)
            yield Check(f"stack {stack}", False if known else None, line)
            return
        role, function = outputs.get("FunctionRoleArn", ""), outputs.get("FunctionName", "")
        if not role:
            yield Check(
                f"stack {stack}",
                None,
                "has no FunctionRoleArn output",
                "update the stack (sam build && sam deploy), or pass --role ARN",
            )
            return
    yield from check_role(config, aws.client("iam"), role, region, function)


def run_checks(config: Config, *, role: str = "", stack: str = "") -> list[Check]:
    """Every check, in the order the checklist prints them; no exception escapes."""
    from bot import aws
    from bot.aws.accounts import accounts_of
    from bot.slack import make_web_client

    checks = [Check("config", True, "valid")]
    checks.extend(check_slack(config, make_web_client(config)))
    checks.append(check_signing_secret(config))
    reason = aws.unavailable_reason()
    if reason:
        checks.append(Check("AWS", False, reason, "configure AWS credentials and a region"))
        return checks
    codepipeline = aws.client("codepipeline")
    region = aws.region_of(codepipeline)
    if config.accounts:
        checks.extend(check_accounts(config, accounts_of(config), role))
        if stack:  # the stack was found in this region: the function runs here
            checks.extend(check_own_region(config, region, stack))
    else:
        checks.extend(check_aws(config, codepipeline, aws.client("codedeploy")))
    checks.extend(_role_checks(config, role, stack, region))
    return checks


def format_checklist(checks: list[Check]) -> str:
    """The checklist as a reader sees it: ✓, ✗ or ?, what was found, and what to fix."""
    lines = []
    for check in checks:
        mark = {True: "✓", False: "✗", None: "?"}[check.ok]
        line = f"{mark} {check.name}" + (f": {check.detail}" if check.detail else "")
        if check.fix:
            line += f"\n    → {check.fix}"
        lines.append(line)
    failed = sum(c.ok is False for c in checks)
    unknown = sum(c.ok is None for c in checks)
    summary = f"\n{len(checks) - failed - unknown} of {len(checks)} checks passed"
    if unknown:
        summary += f", {unknown} could not be made"
    lines.append(summary)
    return "\n".join(lines)
