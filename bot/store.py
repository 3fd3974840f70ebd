"""Where deploybot remembers its messages and its ledger: a versioned record per key,
compare-and-swap writes, and named lists to read many records in one query.

Two implementations of one small protocol: DynamoDB on AWS and an SQLite file locally. Both
make `put` conditional on the version read, so two invocations racing on the same deployment
cannot both claim its message: one write wins, the other re-reads and sees the claim.

A record may also stand in one list (`listed = (list name, position)`): the ledger's pipelines
and groups by recent activity, the living messages the sweep must look at by when it is due.
`query` reads a list in position order. On DynamoDB a list is a global secondary index
(`lists`: `list_name` hash key, `list_pos` range key) added to the existing table, so an
install made before lists existed keeps its table and its living messages (README "Ledger").
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.domain.config import DEFAULT_STORE_TTL_DAYS as DEFAULT_TTL_DAYS
from bot.domain.config import STORE_INDEX, Config

logger = logging.getLogger(__name__)

QUERY_LIMIT = 5000  # records one query returns at most: far more than an account's pipelines
INDEX_NAME = STORE_INDEX  # DynamoDB's global secondary index over list_name / list_pos


class StoreError(RuntimeError):
    """The store could not be read or written; callers degrade instead of going silent."""


@dataclass(frozen=True, slots=True)
class Record:
    """One stored item: `body` is JSON text, `version` counts the writes (0 = not stored yet)."""

    key: str
    version: int = 0
    body: str = "{}"
    listed: tuple[str, str] | None = None  # (list, position): where `query` finds it, if at all


class Store(Protocol):
    """A key-value store with conditional writes."""

    def get(self, key: str) -> Record | None:
        """The record under `key`, or None when there is none (or it expired)."""

    def put(self, record: Record) -> bool:
        """Write `record` as version+1 if the stored version is still `record.version`."""

    def query(
        self, name: str, *, upto: str = "", newest_first: bool = True, limit: int = QUERY_LIMIT
    ) -> list[Record]:
        """The live records of list `name` (positions <= `upto` if given), in position order."""


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
                    _set_up(db)
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
                    "SELECT version, body, list_name, list_pos FROM records"
                    " WHERE key = ? AND expires_at > ?",
                    (key, self._clock()),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {exc}") from exc
        return None if row is None else _record(key, *row)

    def put(self, record: Record) -> bool:
        """Compare-and-swap on the version; an expired record counts as absent."""
        now = self._clock()
        name, pos = record.listed or (None, None)
        try:
            db = self._db()
            if record.version == 0:
                cursor = db.execute(
                    "INSERT INTO records (key, version, body, expires_at, list_name, list_pos)"
                    " VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET version = 1,"
                    " body = excluded.body, expires_at = excluded.expires_at,"
                    " list_name = excluded.list_name, list_pos = excluded.list_pos"
                    " WHERE records.expires_at <= ?",
                    (record.key, record.body, now + self._ttl, name, pos, now),
                )
            else:
                cursor = db.execute(
                    "UPDATE records SET version = version + 1, body = ?, expires_at = ?,"
                    " list_name = ?, list_pos = ? WHERE key = ? AND version = ? AND expires_at > ?",
                    (record.body, now + self._ttl, name, pos, record.key, record.version, now),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite write failed: {exc}") from exc
        return cursor.rowcount == 1

    def query(
        self, name: str, *, upto: str = "", newest_first: bool = True, limit: int = QUERY_LIMIT
    ) -> list[Record]:
        """The list's live records in position order, like the DynamoDB index."""
        params: tuple[object, ...] = (name, self._clock(), upto or "\uffff", limit)
        try:
            rows = self._db().execute(_QUERIES[newest_first], params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite query failed: {exc}") from exc
        return [_record(*row) for row in rows]


_SELECT = (
    "SELECT key, version, body, list_name, list_pos FROM records"
    " WHERE list_name = ? AND expires_at > ? AND list_pos <= ?"
)
_QUERIES = {
    True: _SELECT + " ORDER BY list_pos DESC LIMIT ?",
    False: _SELECT + " ORDER BY list_pos ASC LIMIT ?",
}


def _set_up(db: sqlite3.Connection) -> None:
    """Create the table, or add the list columns to one made before lists existed."""
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for writers
    db.execute(
        "CREATE TABLE IF NOT EXISTS records ("
        " key TEXT PRIMARY KEY, version INTEGER NOT NULL,"
        " body TEXT NOT NULL, expires_at REAL NOT NULL)"
    )
    columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
    for column in ("list_name", "list_pos"):
        if column not in columns:
            with contextlib.suppress(sqlite3.OperationalError):  # another process was first
                db.execute(f"ALTER TABLE records ADD COLUMN {column} TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS records_lists ON records (list_name, list_pos)")


def _record(key: str, version: int, body: str, name: str | None, pos: str | None) -> Record:
    listed = (name, pos) if name is not None and pos is not None else None
    return Record(key, int(version), str(body), listed)


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
        return _from_item(item)

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
        item = {
            "pk": {"S": record.key},
            "version": {"N": str(record.version + 1)},
            "body": {"S": record.body},
            "expires_at": {"N": str(int(now + self._ttl))},
        }
        if record.listed is not None:  # absent attributes keep the record out of the index
            item["list_name"], item["list_pos"] = ({"S": part} for part in record.listed)
        try:
            self._dynamodb().put_item(
                TableName=self._table,
                Item=item,
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

    def query(
        self, name: str, *, upto: str = "", newest_first: bool = True, limit: int = QUERY_LIMIT
    ) -> list[Record]:
        """One Query of the `lists` index, page after page; eventually consistent, like any GSI.

        A table without the index (made before lists existed, or still building it) raises
        StoreError: callers then work without the list.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        condition = "list_name = :n" + (" AND list_pos <= :upto" if upto else "")
        values = {":n": {"S": name}, **({":upto": {"S": upto}} if upto else {})}
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
        }
        now = self._clock()
        records: list[Record] = []
        try:
            while len(records) < limit:
                page = self._dynamodb().query(**params, Limit=limit - len(records))
                items = page.get("Items", [])
                records.extend(_from_item(i) for i in items if float(i["expires_at"]["N"]) > now)
                if "LastEvaluatedKey" not in page:
                    break
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"DynamoDB query of {self._table} failed: {exc}") from exc
        return records


def _from_item(item: dict[str, Any]) -> Record:
    listed = None
    if "list_name" in item and "list_pos" in item:
        listed = (item["list_name"]["S"], item["list_pos"]["S"])
    return Record(item["pk"]["S"], int(item["version"]["N"]), item["body"]["S"], listed)


def make_store(config: Config) -> Store | None:
    """The store the configuration names; None when living messages are turned off."""
    if config.store_backend == "dynamodb":
        return DynamoStore(config.store_table, ttl_days=config.store_ttl_days)
    if config.store_backend == "sqlite":
        return SqliteStore(config.store_path, ttl_days=config.store_ttl_days)
    return None
