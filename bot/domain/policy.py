"""Who may press a button that changes production: default deny. Pure.

The shape of `[rollback]` (users, user groups, channels) is the shape every action section
takes, so the same check serves them all; `section` names the config table in the reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Policy(Protocol):
    """Who may act, and where: the shape of [rollback] (and of later action sections)."""

    @property
    def users(self) -> tuple[str, ...]: ...
    @property
    def usergroups(self) -> tuple[str, ...]: ...
    @property
    def channels(self) -> tuple[str, ...]: ...


def needs_group_lookup(policy: Policy, user: str, channel: str) -> bool:
    """True when only user-group membership can still authorize `user` here."""
    return channel in policy.channels and user not in policy.users and bool(policy.usergroups)


def authorization_refusal(
    policy: Policy, user: str, channel: str, groups: Iterable[str] = (), section: str = "rollback"
) -> str:
    """Why `user` may not act from `channel`, or "". Default deny.

    `groups` are the configured user groups `user` is a member of (usergroups.users.list);
    `section` names the config table in the reasons.
    """
    if not policy.channels:
        return f"no channel allows this ({section}.channels is empty)"
    if channel not in policy.channels:
        return f"this is not allowed from this channel ({section}.channels)"
    if not policy.users and not policy.usergroups:
        return f"nobody is allowed to do this ({section}.users and {section}.usergroups are empty)"
    if user in policy.users or any(g in policy.usergroups for g in groups):
        return ""
    return f"you are not in {section}.users nor in one of {section}.usergroups"
