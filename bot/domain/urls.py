"""What may go into a link. Pure.

A link deploybot builds has its scheme, host and path shape fixed here; a notification supplies
only a region (checked strictly, because it becomes part of the host) and single path segments
from a safe alphabet (the patterns of botocore's service models where they define one). A link
a notification carries whole (an action's details, an approval review) must parse as an http(s)
URL with a plain host and no user info, so that the host we show is the host it opens.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qs, urlsplit

# The commercial partition (botocore's partitions.json regionRegex for "aws", ASCII only):
# its console lives at <region>.console.aws.amazon.com. China, GovCloud and the isolated
# partitions have other console hosts, so no console link is made for them.
_REGION = re.compile(r"(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]{1,2}")
# PipelineName, StageName, ActionName in the CodePipeline model.
_PIPELINE_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
# ApplicationName, DeploymentGroupName in the CodeDeploy model.
_CODEDEPLOY_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,100}")
# CodeDeploy ids are "d-" and nine letters or digits; the model sets no pattern.
_DEPLOYMENT_ID = re.compile(r"d-[A-Za-z0-9]{1,64}")
# Pipeline execution ids are UUIDs in the model; documentation examples and redacted captures
# use placeholders ("xxxxxxxx-xxxx-..."), which stay in the same safe alphabet.
_EXECUTION_ID = re.compile(r"[A-Za-z0-9-]{1,100}")
_SHA = re.compile(r"[0-9A-Za-z]{1,64}")
# owner/name (GitHub, Bitbucket) or group/subgroup/project (GitLab); CodeCommit: one name.
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}(?:/[A-Za-z0-9_.-]{1,100}){0,5}")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|//|@\{|^[/.]|[/.]$|\.lock$|/\.")
_HOST = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
# Characters that no URL we link to may hold: browsers drop or reinterpret them (a backslash is
# a slash to a browser but not to urlsplit), so the host we checked might not be the host opened.
_URL_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")


def _fits(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None and value not in (".", "..")


def is_region(value: str) -> bool:
    """A region of the commercial partition, whose console is <region>.console.aws.amazon.com."""
    return _fits(_REGION, value)


def is_pipeline_name(value: str) -> bool:
    """A CodePipeline pipeline, stage or action name."""
    return _fits(_PIPELINE_NAME, value)


def is_codedeploy_name(value: str) -> bool:
    """A CodeDeploy application or deployment group name."""
    return _fits(_CODEDEPLOY_NAME, value)


def is_deployment_id(value: str) -> bool:
    """A CodeDeploy deployment id ("d-" and letters or digits)."""
    return _fits(_DEPLOYMENT_ID, value)


def is_execution_id(value: str) -> bool:
    """A pipeline execution id (a UUID, or a placeholder of the same alphabet)."""
    return _fits(_EXECUTION_ID, value)


def is_sha(value: str) -> bool:
    """A commit id: letters and digits only."""
    return _fits(_SHA, value)


def is_repository(value: str) -> bool:
    """A repository path: one to six segments of letters, digits, "_", "." and "-"."""
    return _fits(_REPOSITORY, value) and all(part not in (".", "..") for part in value.split("/"))


def is_branch(value: str) -> bool:
    """A Git branch or tag name as `git check-ref-format` allows it (ASCII controls aside)."""
    return 0 < len(value) <= 255 and _REF_FORBIDDEN.search(value) is None and value != "@"


def split_url(url: str) -> SplitResult | None:
    """`url` split, when it is an absolute http(s) URL with a plain (ASCII) host and no user info.

    None for anything else; never raises (urlsplit does, on "https://[x").
    """
    if not url.startswith(("https://", "http://")) or _URL_FORBIDDEN.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return None
    if parts.username is not None or "@" in parts.netloc or not _ascii_host(host):
        return None
    return parts


def _ascii_host(host: str) -> bool:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return ascii_host == host and _HOST.fullmatch(host) is not None


def url_host(url: str) -> str:
    """The host a link opens ("" when `url` is not one split_url accepts)."""
    parts = split_url(url)
    return parts.hostname or "" if parts is not None else ""


def query_value(url: str, name: str) -> str:
    """The first value of query parameter `name` in `url`, or ""."""
    parts = split_url(url)
    if parts is None:
        return ""
    values = parse_qs(parts.query).get(name)
    return values[0] if values else ""
