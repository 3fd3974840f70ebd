"""People, not strings: who started a run, who wrote its commits, and their Slack ids. Pure.

AWS names the person who started a run in several ways: a pipeline's `triggerType` and
`triggerDetail` (a webhook push names the commit's author; StartPipelineExecution names an IAM
user or an assumed-role session, which is often an e-mail with SSO), a CodeDeploy deployment's
`creator` (an enum without a name in it), and deploybot's own rollbacks (a Slack user).
A person becomes a Slack mention through the `[people]` map of the config (git e-mail or
login -> Slack user id), else through Slack's users.lookupByEmail (bot/directory.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace

from bot.domain.model import Deployment, Person, ReleaseDiff, Scope, StartedBy

# CodePipeline's TriggerType values (botocore codepipeline 2015-07-09) whose detail is the ARN
# of the IAM principal that called the API.
_CALLED_BY_PRINCIPAL = frozenset({"StartPipelineExecution", "ManualRollback"})
_PUSHES = frozenset({"Webhook", "WebhookV2", "PollForSourceChanges"})
AUTHORS = "authors"  # the failure_mentions value that pings the authors of the release diff
MENTIONED_AUTHORS_MAX = 10  # a failure pings at most this many authors
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")  # what may go into <@...>: a user, nothing else


def principal(arn: str) -> tuple[Person | None, str]:
    """(the person, their role) an IAM ARN names: a user, an assumed-role session, root.

    `arn:aws:sts::1:assumed-role/Admin/alice@example.com` -> alice@example.com, role Admin.
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None, ""
    service, resource = parts[2], parts[5]
    if service == "sts" and resource.startswith("assumed-role/"):
        pieces = resource.split("/", 2)
        role = pieces[1] if len(pieces) > 1 else ""
        session = pieces[2] if len(pieces) > 2 else ""
        return (_session_person(session) if session else None), role
    if service == "iam" and resource.startswith("user/"):
        return Person(name=resource.rsplit("/", 1)[-1]), ""
    if service == "iam" and resource == "root":
        return Person(name="root"), ""
    return None, ""


def _session_person(session: str) -> Person:
    """A role session name: SSO and many federations put the user's e-mail there."""
    return Person(name=session, email=session if _is_email(session) else "")


def _is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in value))


def git_person(name: str = "", login: str = "", email: str = "") -> Person:
    """A commit author as a notification names them; placeholders and names are not logins."""
    if login and any(c.isspace() for c in login):
        name, login = name or login, ""
    return Person(name=name, login=login, email=email if _is_email(email) else "")


def pipeline_starter(
    trigger_type: str,
    trigger_detail: str = "",
    *,
    author: Person | None = None,
) -> StartedBy | None:
    """Who or what started a pipeline execution, from its trigger (and the commit's author).

    `author` is the pushed commit's author, which notifications carry for Git-triggered runs.
    """
    if not trigger_type:
        return None
    if trigger_type in _CALLED_BY_PRINCIPAL:
        who, role = principal(trigger_detail)
        return StartedBy(trigger_type, who, role)
    if trigger_type in _PUSHES:
        return StartedBy(trigger_type, author if author and _named(author) else None)
    if trigger_type == "CloudWatchEvent":
        # The detail is the EventBridge rule's ARN (arn:aws:events:...:rule/NAME).
        return StartedBy(trigger_type, detail=trigger_detail.rsplit("/", 1)[-1])
    return StartedBy(trigger_type)


def deployment_starter(creator: str) -> StartedBy | None:
    """What started a CodeDeploy deployment: its `creator` (user, autoscaling, ...)."""
    return StartedBy(creator) if creator else None


def started_by(event: Deployment) -> StartedBy | None:
    """Who or what started the event's run: deploybot's own rollback first, then what AWS says."""
    if event.requested is not None:
        return StartedBy("deploybot", Person(slack_id=event.requested.user))
    return event.started_by


def first_starter(events: Iterable[Deployment]) -> StartedBy | None:
    """Who started a run that several events describe: what its pipeline events say first."""
    known = [e for e in events if e.started_by is not None]
    known.sort(key=lambda e: e.scope is not Scope.PIPELINE)  # stable: otherwise in order
    return known[0].started_by if known else None


def _named(person: Person) -> bool:
    return bool(person.name or person.email or person.login or person.slack_id)


def identity(person: Person) -> str:
    """One key per person, however many commits they wrote: login, else e-mail, else name."""
    for value in (person.login, person.email, person.name):
        if value.strip():
            return value.strip().lower()
    return ""


def map_key(value: str) -> str:
    """How a `[people]` key and a git e-mail or login are compared: case-insensitively."""
    return value.strip().removeprefix("@").lower()


def mapped_id(person: Person, people: Mapping[str, str]) -> str:
    """The Slack user id `[people]` gives this person's e-mail or login (or IAM name), else ""."""
    for value in (person.email, person.login, person.name):
        if value and map_key(value) in people:
            return people[map_key(value)]
    return ""


def persons(event: Deployment) -> Iterator[Person]:
    """Everyone the event names who could become a Slack mention."""
    if event.started_by is not None and event.started_by.who is not None:
        yield event.started_by.who
    if event.diff is not None:
        yield from event.diff.authors
        yield from (change.author for change in event.diff.changes)


def with_people(event: Deployment, resolve: Callable[[Person], Person]) -> Deployment:
    """The event with every person it names passed through `resolve` (which adds Slack ids)."""
    started = event.started_by
    if started is not None and started.who is not None:
        started = replace(started, who=resolve(started.who))
    diff = event.diff
    if diff is not None:
        diff = replace(
            diff,
            authors=tuple(resolve(p) for p in diff.authors),
            changes=tuple(replace(c, author=resolve(c.author)) for c in diff.changes),
        )
    return replace(event, started_by=started, diff=diff)


def expand_mentions(mentions: Iterable[str], diff: ReleaseDiff | None) -> tuple[str, ...]:
    """`failure_mentions` with "authors" replaced by the Slack ids of the diff's authors."""
    expanded: list[str] = []
    for mention in mentions:
        if mention != AUTHORS:
            expanded.append(mention)
        elif diff is not None and not diff.backwards:
            ids = [p.slack_id for p in diff.authors if SLACK_USER_ID.fullmatch(p.slack_id)]
            expanded.extend(ids[:MENTIONED_AUTHORS_MAX])
    return tuple(dict.fromkeys(expanded))
