"""Where a thing lives: an AWS account and region. Pure.

Every button that names something to act on carries its account and region (`value_fields`,
checked again with `read_value`), and every claim on an environment is keyed with them
(`environment`), so that web-prod in one account and web-prod in another are two things: a
rollback of one does not hold the other. A value without them (a message posted before
deploybot knew several accounts) means deploybot's own account, in its own region.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION_NAME = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")


def is_account_id(value: str) -> bool:
    """A 12-digit AWS account id, whole."""
    return ACCOUNT_ID.fullmatch(value) is not None


def is_region_name(value: str) -> bool:
    """An AWS region name (eu-west-1, us-gov-west-1, cn-north-1), whole."""
    return REGION_NAME.fullmatch(value) is not None


def value_fields(account: str, region: str) -> dict[str, str]:
    """A button value's account ("ac") and region ("r"), each only when well formed."""
    fields = {}
    if is_account_id(account):
        fields["ac"] = account
    if is_region_name(region):
        fields["r"] = region
    return fields


def read_value(data: Mapping[str, str]) -> tuple[str, str] | None:
    """(account, region) of a button value ("" for what it does not name); None when either
    is there and malformed: then the value names nothing real."""
    account, region = data.get("ac", ""), data.get("r", "")
    if (account and not is_account_id(account)) or (region and not is_region_name(region)):
        return None
    return account, region


def environment(kind: str, name: str, account: str = "", region: str = "") -> str:
    """What a claim holds: "pipeline:web-prod", and with its place
    "pipeline:222233334444:us-east-1:web-prod"."""
    if account or region:
        return f"{kind}:{account}:{region}:{name}"
    return f"{kind}:{name}"


def parse_environment(where: str) -> tuple[str, str, str, str]:
    """(kind, account, region, name) of `environment`'s answer."""
    kind, _, rest = where.partition(":")
    parts = rest.split(":", 2)
    placed = len(parts) == 3 and (not parts[0] or is_account_id(parts[0]))
    if placed and (not parts[1] or is_region_name(parts[1])):
        return kind, parts[0], parts[1], parts[2]
    return kind, "", "", rest
