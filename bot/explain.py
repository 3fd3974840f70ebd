"""What went wrong, in one line a person can act on: the thing (channel, key, URL) and the fix.

The command line (bot/cli.py) and the checklist (bot/check.py) word failures the same way. The
Slack error codes are those Slack's Web API and incoming webhooks answer (chat.postMessage,
auth.test, conversations.*; webhooks answer a bare code such as `no_service`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.domain.model import AwsProblem

EXIT_OK = 0
EXIT_PROBLEM = 1  # something outside deploybot refused or failed: Slack, AWS, the store
EXIT_USAGE = 2  # bad input: an unreadable payload, a bad config key, a missing setting

TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
_GONE_WEBHOOK = frozenset({"no_service", "no_active_hooks", "invalid_token"})
_REFUSED_CHANNEL = frozenset(
    {"restricted_action", "posting_to_general_channel_denied", "action_prohibited"}
)
FETCH_THE_BOT_CREDENTIAL = (
    "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page into "
    "SLACK_BOT_TOKEN (on AWS: the SSM parameter or secret)"
)
SCOPE_FIX = "add the scopes manifest.yml lists to the app, then reinstall it to the workspace"


def host_of(url: str) -> str:
    """The host of a URL, never its path (an incoming webhook's path is its secret)."""
    return urlsplit(url).netloc or url


def slack_error(code: str, channel: str = "", *, api_url: str = "", webhook: bool = False) -> str:
    """Slack's error `code` for `channel`, and what to do about it."""
    where = "the incoming webhook" if webhook else f"channel {channel}" if channel else "Slack"
    if code in TOKEN_ERRORS:
        return f"Slack refused the bot token ({code}): {FETCH_THE_BOT_CREDENTIAL}"
    if code == "unreachable":
        target = "the incoming webhook" if webhook else f"Slack at {api_url or 'slack.com'}"
        return f"cannot reach {target}: check the network or proxy, or SLACK_API_URL"
    if code == "ratelimited":
        return "Slack kept answering 429 (rate limited): wait a minute, then send again"
    if code.startswith("http_5"):
        return f"Slack answered HTTP {code[5:]} after retries: try again later (status.slack.com)"
    if webhook and code in _GONE_WEBHOOK | {"channel_not_found", "channel_is_archived"}:
        return f"the incoming webhook is gone ({code}): make a new one, set SLACK_WEBHOOK_URL"
    fixes = {
        "channel_not_found": (
            f"{where}: Slack cannot find it (channel_not_found): check the name or use the "
            "channel id (C...); a private channel needs /invite @deploybot"
        ),
        "not_in_channel": (
            f"{where}: the bot is not a member (not_in_channel): /invite @deploybot in {channel}"
        ),
        "is_archived": f"{where} is archived (is_archived): unarchive it or send elsewhere",
        "missing_scope": f"the Slack app lacks a scope (missing_scope): {SCOPE_FIX}",
    }
    if code in fixes:
        return fixes[code]
    if code in _REFUSED_CHANNEL:
        return f"{where}: the workspace does not let the bot post there ({code}): ask an admin"
    about = f" for {where}" if webhook or channel else ""
    return f"Slack answered {code or 'an error'}{about}: see the method's errors at api.slack.com"


def aws_problem(problem: AwsProblem) -> str:
    """An AWS failure and what to do about it."""
    action = problem.action
    if problem.kind == "denied":
        return f"access denied to {action}: grant it to the AWS credentials in use"
    if problem.kind == "credentials":
        return "no AWS credentials were found: run `aws configure` or set AWS_PROFILE"
    if problem.kind == "timeout":
        return f"AWS did not answer {action}: check the network and the region (AWS_REGION)"
    if problem.kind == "throttled":
        return f"AWS throttled {action}: wait a moment and try again"
    detail = problem.message or problem.reason
    if "region" in detail.lower():
        return f"{detail}: set AWS_REGION or a profile's region"
    return f"{action}: {detail}"


def aws_fix(problem: AwsProblem, who: str) -> str:
    """The fix alone, for a checklist line that already says what failed."""
    return {
        "denied": f"grant {problem.action} to {who}",
        "credentials": "configure AWS credentials (aws configure, AWS_PROFILE)",
        "timeout": "check the network path to AWS and the region",
        "throttled": "try again in a moment",
    }.get(problem.kind, "")
