"""A local fake of AWS STS (AssumeRole, GetCallerIdentity) over real HTTP on loopback.

STS speaks the AWS query protocol (botocore's model: `"protocol": "query"`): a form-encoded POST
(`Action=AssumeRole&Version=2011-06-15&RoleArn=...&RoleSessionName=...[&ExternalId=...]`),
answered with XML. The answers follow the STS API Reference:
- AssumeRole's sample response: `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/
  2011-06-15/"><AssumeRoleResult><AssumedRoleUser><Arn/><AssumedRoleId/></AssumedRoleUser>
  <Credentials><AccessKeyId/><SecretAccessKey/><SessionToken/><Expiration/></Credentials>
  <PackedPolicySize/></AssumeRoleResult><ResponseMetadata><RequestId/></ResponseMetadata>`.
- A caller the role does not trust (or a wrong or missing ExternalId) gets what STS answers
  then: HTTP 403, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>
  User: <caller ARN> is not authorized to perform: sts:AssumeRole on resource: <role ARN>
  </Message></Error><RequestId/></ErrorResponse>` (the query protocol's error shape).
- RoleSessionName is 2-64 characters of [\\w+=,.@-] (ValidationError otherwise).

Each AssumeRole issues new credentials (access keys `ASIA<role tag><n>`), valid `seconds`; the
fake remembers which role each key belongs to (`role_of`), so tests/fake_aws.py can answer a
call with the account whose credentials signed it. Every call records the key that signed it.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from tests.fake_aws import signed_by
from tests.loopback import Loopback

XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


@dataclass
class Trust:
    """A role's trust policy as the fake applies it: who may assume it, with which external id."""

    callers: frozenset[str]  # access keys of the principals it trusts
    external_id: str = ""  # required sts:ExternalId ("" when the policy has no condition)


@dataclass
class StsCall:
    """One request: its action and parameters, who signed it and for which region."""

    action: str
    params: dict[str, str]
    access_key: str
    region: str


@dataclass
class FakeSts(Loopback):
    """Start with `FakeSts.start(roles, accounts)`; stop with `close()`."""

    roles: dict[str, Trust]
    accounts: dict[str, str]  # access key -> the account id GetCallerIdentity says
    seconds: int = 3600  # how long issued credentials last
    calls: list[StsCall] = field(default_factory=list)
    issued: dict[str, str] = field(default_factory=dict)  # access key -> role ARN
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @classmethod
    def start(
        cls, roles: dict[str, Trust], accounts: dict[str, str], seconds: int = 3600
    ) -> FakeSts:
        fake = cls(roles=roles, accounts=accounts, seconds=seconds)
        fake.serve(_make_handler(fake))
        return fake

    def role_of(self, access_key: str) -> str:
        """The role whose AssumeRole issued `access_key` ("" for any other key)."""
        with self.lock:
            return self.issued.get(access_key, "")

    def assumed(self, role_arn: str = "") -> list[StsCall]:
        """Every AssumeRole request (of `role_arn`), answered or refused."""
        with self.lock:
            return [
                c
                for c in self.calls
                if c.action == "AssumeRole" and (not role_arn or c.params["RoleArn"] == role_arn)
            ]

    def answer(self, call: StsCall) -> tuple[int, str]:
        """(HTTP status, XML body) for one request."""
        if call.action == "GetCallerIdentity":
            return 200, _identity(self.accounts.get(call.access_key, ""), call.access_key)
        if call.action != "AssumeRole":
            return 400, _error("InvalidAction", f"Could not find operation {call.action}")
        role = call.params.get("RoleArn", "")
        session = call.params.get("RoleSessionName", "")
        if not _SESSION_NAME.fullmatch(session):
            return 400, _error("ValidationError", "roleSessionName failed to satisfy constraint")
        trust = self.roles.get(role)
        external = call.params.get("ExternalId", "")
        if trust is None or call.access_key not in trust.callers or external != trust.external_id:
            caller = f"arn:aws:sts::{self.accounts.get(call.access_key, '000000000000')}"
            message = (
                f"User: {caller}:assumed-role/deploybot/hub is not authorized to perform: "
                f"sts:AssumeRole on resource: {role}"
            )
            return 403, _error("AccessDenied", message)
        with self.lock:
            count = sum(1 for r in self.issued.values() if r == role) + 1
            key = f"ASIA{_tag(role)}{count:04d}"
            self.issued[key] = role
        expires = datetime.now(UTC) + timedelta(seconds=self.seconds)
        return 200, _assumed(role, session, key, expires)


def _tag(role: str) -> str:
    return hashlib.sha256(role.encode()).hexdigest()[:12].upper()


def _assumed(role: str, session: str, key: str, expires: datetime) -> str:
    account, name = role.split(":")[4], role.rsplit("/", 1)[-1]
    return (
        f'<AssumeRoleResponse xmlns="{XMLNS}"><AssumeRoleResult>'
        "<AssumedRoleUser>"
        f"<Arn>arn:aws:sts::{account}:assumed-role/{escape(name)}/{escape(session)}</Arn>"
        f"<AssumedRoleId>AROA{_tag(role)}:{escape(session)}</AssumedRoleId>"
        "</AssumedRoleUser>"
        "<Credentials>"
        f"<AccessKeyId>{key}</AccessKeyId>"
        f"<SecretAccessKey>secret-{key}</SecretAccessKey>"
        f"<SessionToken>token-{key}</SessionToken>"
        f"<Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
        "</Credentials>"
        "<PackedPolicySize>6</PackedPolicySize>"
        "</AssumeRoleResult>"
        "<ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
        "</ResponseMetadata></AssumeRoleResponse>"
    )


def _identity(account: str, key: str) -> str:
    return (
        f'<GetCallerIdentityResponse xmlns="{XMLNS}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:sts::{account}:assumed-role/deploybot/hub</Arn>"
        f"<UserId>AROA{escape(key)}:hub</UserId><Account>{account}</Account>"
        "</GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>"
        "</ResponseMetadata></GetCallerIdentityResponse>"
    )


def _error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
        "<RequestId>f8a3b7c2-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    )


def _make_handler(fake: FakeSts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            params = {k: v[0] for k, v in form.items()}
            key, region = signed_by(self.headers.get("Authorization", ""))
            call = StsCall(params.pop("Action", ""), params, key, region)
            with fake.lock:
                fake.calls.append(call)
            status, body = fake.answer(call)
            raw = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler
