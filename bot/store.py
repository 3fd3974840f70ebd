"""Where deploybot remembers its messages: a versioned record per key, compare-and-swap writes.

Two implementations of one small protocol: DynamoDB on AWS and an SQLite file locally. Both
make `put` conditional on the version read, so two invocations racing on the same deployment
cannot both claim its message: one write wins, the other re-reads and sees the claim.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.domain.config import DEFAULT_STORE_TTL_DAYS as DEFAULT_TTL_DAYS
from bot.domain.config import Config

logger = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The store could not be read or written; callers degrade instead of going silent."""


@dataclass(frozen=True, slots=True)
class Record:
    """One stored item: `body` is JSON text, `version` counts the writes (0 = not stored yet)."""

    key: str
    version: int = 0
    body: str = "{}"


class Store(Protocol):
    """A key-value store with conditional writes."""

    def get(self, key: str) -> Record | None:
        """The record under `key`, or None when there is none (or it expired)."""

    def put(self, record: Record) -> bool:
        """Write `record` as version+1 if the stored version is still `record.version`."""


class SqliteStore:
    """An SQLite file: the default for `deploybot send`; safe across processes on one host."""

    def __init__(
        self,
        path: str,
        *,
        ttl_days: int = DEFAULT_TTL_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = path
        self._ttl = ttl_days * 86400
        self._clock = clock
        self._local = threading.local()
        self._setup = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                if self._path != ":memory:":
                    Path(self._path).parent.mkdir(parents=True, exist_ok=True)
                with self._setup:  # threads opening the file at once would meet "locked"
                    db = sqlite3.connect(self._path, timeout=10, isolation_level=None)
                    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                        db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for writers
                    db.execute(
                        "CREATE TABLE IF NOT EXISTS records ("
                        " key TEXT PRIMARY KEY, version INTEGER NOT NULL,"
                        " body TEXT NOT NULL, expires_at REAL NOT NULL)"
                    )
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot open SQLite store {self._path}: {exc}") from exc
            self._local.db = db  # a connection per thread: sqlite3 objects are not shareable
        return db

    def get(self, key: str) -> Record | None:
        """The record under `key` unless it expired."""
        try:
            row = (
                self._db()
                .execute(
                    "SELECT version, body FROM records WHERE key = ? AND expires_at > ?",
                    (key, self._clock()),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc
        return None if row is None else Record(key, int(row[0]), str(row[1]))

    def put(self, record: Record) -> bool:
        """Compare-and-swap on the version; an expired record counts as absent."""
        now = self._clock()
        try:
            db = self._db()
            if record.version == 0:
                cursor = db.execute(
                    "INSERT INTO records (key, version, body, expires_at) VALUES (?, 1, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET version = 1, body = excluded.body,"
                    " expires_at = excluded.expires_at WHERE records.expires_at <= ?",
                    (record.key, record.body, now + self._ttl, now),
                )
            else:
                cursor = db.execute(
                    "UPDATE records SET version = version + 1, body = ?, expires_at = ?"
                    " WHERE key = ? AND version = ? AND expires_at > ?",
                    (record.body, now + self._ttl, record.key, record.version, now),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite write failed: {exc}") from exc
        return cursor.rowcount == 1


class DynamoStore:
    """A DynamoDB table keyed by `pk` (string), with TTL on `expires_at`.

    Reads are strongly consistent, so a claim written by one invocation is seen by the next.
    """

    def __init__(
        self,
        table: str,
        *,
        ttl_days: int = DEFAULT_TTL_DAYS,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._ttl = ttl_days * 86400
        self._client = client
        self._clock = clock

    def _dynamodb(self) -> Any:
        if self._client is None:
            from bot.aws import client  # boto3 only when the store is first used

            self._client = client("dynamodb")
        return self._client

    def get(self, key: str) -> Record | None:
        """The record under `key` unless its TTL passed (DynamoDB deletes late, so check)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            item = (
                self._dynamodb()
                .get_item(TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True)
                .get("Item")
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"DynamoDB read from {self._table} failed: {exc}") from exc
        if item is None or float(item["expires_at"]["N"]) <= self._clock():
            return None
        return Record(key, int(item["version"]["N"]), item["body"]["S"])

    def put(self, record: Record) -> bool:
        """Conditional put: absent (or expired) for version 0, else the same version."""
        from botocore.exceptions import BotoCoreError, ClientError

        now = self._clock()
        if record.version == 0:
            condition = "attribute_not_exists(pk) OR expires_at <= :now"
            values = {":now": {"N": str(now)}}
        else:
            condition = "version = :v AND expires_at > :now"
            values = {":v": {"N": str(record.version)}, ":now": {"N": str(now)}}
        try:
            self._dynamodb().put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": record.key},
                    "version": {"N": str(record.version + 1)},
                    "body": {"S": record.body},
                    "expires_at": {"N": str(int(now + self._ttl))},
                },
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreError(f"DynamoDB write to {self._table} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB write to {self._table} failed: {exc}") from exc
        return True


def make_store(config: Config) -> Store | None:
    """The store the configuration names; None when living messages are turned off."""
    if config.store_backend == "dynamodb":
        return DynamoStore(config.store_table, ttl_days=config.store_ttl_days)
    if config.store_backend == "sqlite":
        return SqliteStore(config.store_path, ttl_days=config.store_ttl_days)
    return None
