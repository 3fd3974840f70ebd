"""The two stores, against a real SQLite file and moto's DynamoDB: same contract, same races."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from bot.domain.config import Config
from bot.domain.ledger import NAMES_MAX_BYTES, Names, dump_entry
from bot.ledger import Ledger
from bot.store import (
    INDEX_NAME,
    DynamoStore,
    Record,
    SqliteStore,
    Store,
    StoreError,
    make_store,
)

TABLE = "deploybot-test"
DAY = 86400


class Clock:
    """A settable clock, so expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def create_table(client: Any, *, lists: bool = True, name: str = TABLE) -> None:
    """The table as template.yaml makes it: pk (S) hash key, TTL on expires_at, and the `lists`
    index (list_name, list_pos), which `lists=False` leaves out like an install made before it.
    """
    definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
    index: dict[str, Any] = {}
    if lists:
        definitions += [
            {"AttributeName": "list_name", "AttributeType": "S"},
            {"AttributeName": "list_pos", "AttributeType": "S"},
        ]
        index["GlobalSecondaryIndexes"] = [
            {
                "IndexName": INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": "list_name", "KeyType": "HASH"},
                    {"AttributeName": "list_pos", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=definitions,
        BillingMode="PAY_PER_REQUEST",
        **index,
    )
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client)
        yield client


@pytest.fixture(params=["sqlite", "dynamodb"])
def clock_and_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Clock, Store]]:
    clock = Clock()
    if request.param == "sqlite":
        yield clock, SqliteStore(str(tmp_path / "s" / "state.db"), clock=clock)
    else:
        client = request.getfixturevalue("dynamodb")
        yield clock, DynamoStore(TABLE, client=client, clock=clock)


def test_put_is_compare_and_swap(clock_and_store: tuple[Clock, Store]) -> None:
    _, store = clock_and_store
    assert store.get("k") is None
    assert store.put(Record("k", 0, '{"a":1}'))
    assert not store.put(Record("k", 0, '{"a":2}'))  # it exists now
    assert store.get("k") == Record("k", 1, '{"a":1}')
    assert store.put(Record("k", 1, '{"a":3}'))
    assert not store.put(Record("k", 1, '{"a":4}'))  # a stale version loses
    assert store.get("k") == Record("k", 2, '{"a":3}')


def test_records_expire(clock_and_store: tuple[Clock, Store]) -> None:
    clock, store = clock_and_store
    assert store.put(Record("k", 0, "{}"))
    clock.now += 31 * DAY
    assert store.get("k") is None
    assert not store.put(Record("k", 1, "{}"))  # an expired record cannot be updated...
    assert store.put(Record("k", 0, '{"new":1}'))  # ...only created afresh
    assert store.get("k") == Record("k", 1, '{"new":1}')


def test_racing_claims_have_one_winner(clock_and_store: tuple[Clock, Store]) -> None:
    # GIVEN 8 invocations that all read "no message yet" for the same key
    _, store = clock_and_store
    start = threading.Barrier(8)
    wins: list[bool] = []

    def claim(n: int) -> None:
        start.wait()
        wins.append(store.put(Record("execution#1", 0, f'{{"owner":{n}}}')))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN exactly one conditional write succeeded
    assert sorted(wins) == [False] * 7 + [True]


def test_dynamodb_item_shape(dynamodb: Any) -> None:
    clock = Clock()
    DynamoStore(TABLE, client=dynamodb, clock=clock, ttl_days=7).put(Record("k", 0, "{}"))
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "k"}})["Item"]
    assert item["version"] == {"N": "1"}
    assert item["body"] == {"S": "{}"}
    assert int(item["expires_at"]["N"]) == int(clock.now + 7 * DAY)


def test_dynamodb_outage_is_a_store_error(dynamodb: Any) -> None:
    store = DynamoStore("no-such-table", client=dynamodb)
    with pytest.raises(StoreError, match="no-such-table"):
        store.get("k")
    with pytest.raises(StoreError, match="no-such-table"):
        store.put(Record("k"))


def test_sqlite_outage_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open"):
        SqliteStore(str(blocker / "state.db")).get("k")


def test_make_store_follows_the_config(tmp_path: Path) -> None:
    assert isinstance(make_store(Config(store_path=str(tmp_path / "x.db"))), SqliteStore)
    assert isinstance(make_store(Config(store_backend="dynamodb", store_table=TABLE)), DynamoStore)
    assert make_store(Config(store_backend="none")) is None


def test_lists_are_read_in_position_order(clock_and_store: tuple[Clock, Store]) -> None:
    # GIVEN records in two lists, one record in none, and one listed record that expired
    clock, store = clock_and_store
    assert store.put(Record("old", 0, "{}", ("activity", "2024-01-01")))
    clock.now += 29 * DAY
    assert store.put(Record("a", 0, '{"n":1}', ("activity", "2024-03-01")))
    assert store.put(Record("b", 0, "{}", ("activity", "2024-02-01")))
    assert store.put(Record("due", 0, "{}", ("sweep", "2024-02-15")))
    assert store.put(Record("quiet", 0, "{}"))
    clock.now += 2 * DAY  # "old" is 31 days old now
    # WHEN a list is queried THEN it holds its live records, newest position first
    assert [r.key for r in store.query("activity")] == ["a", "b"]
    assert [r.key for r in store.query("activity", newest_first=False)] == ["b", "a"]
    assert store.query("activity")[0] == Record("a", 1, '{"n":1}', ("activity", "2024-03-01"))
    # AND a bound keeps the positions at or before it
    assert [r.key for r in store.query("activity", upto="2024-02-01")] == ["b"]
    assert store.query("activity", limit=1)[0].key == "a"
    # AND a record moves or leaves a list with its next write
    [a] = store.query("activity", limit=1)
    assert store.put(Record("a", a.version, "{}", ("sweep", "2024-01-01")))
    assert [r.key for r in store.query("sweep", newest_first=False)] == ["a", "due"]
    assert store.put(Record("a", a.version + 1, "{}"))
    assert store.get("a") == Record("a", a.version + 2, "{}")
    assert [r.key for r in store.query("sweep")] == ["due"]


def test_a_sqlite_file_from_before_lists_gets_them(tmp_path: Path) -> None:
    # GIVEN a state file written by the previous release (no list columns)
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE records (key TEXT PRIMARY KEY, version INTEGER NOT NULL,"
        " body TEXT NOT NULL, expires_at REAL NOT NULL)"
    )
    db.execute("INSERT INTO records VALUES ('execution#1', 3, '{}', 9e12)")
    db.commit()
    db.close()
    # WHEN this release opens it THEN the old record is still there and lists work
    store = SqliteStore(str(path))
    assert store.get("execution#1") == Record("execution#1", 3, "{}")
    assert store.put(Record("execution#1", 3, "{}", ("sweep", "x")))
    assert [r.key for r in store.query("sweep")] == ["execution#1"]


def test_a_dynamodb_table_without_the_index_is_a_store_error_on_query(dynamodb: Any) -> None:
    # GIVEN a table made before the `lists` index existed
    create_table(dynamodb, lists=False, name="old-table")
    store = DynamoStore("old-table", client=dynamodb)
    # THEN reads and writes work as before, and only a query fails, with a StoreError
    assert store.put(Record("k", 0, "{}", ("activity", "1")))
    assert store.get("k") == Record("k", 1, "{}", ("activity", "1"))
    with pytest.raises(StoreError, match="old-table"):
        store.query("activity")


def test_dynamodb_list_attributes_feed_the_index(dynamodb: Any) -> None:
    store = DynamoStore(TABLE, client=dynamodb)
    store.put(Record("k", 0, "{}", ("activity", "2024")))
    store.put(Record("plain", 0, "{}"))
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "k"}})["Item"]
    assert (item["list_name"], item["list_pos"]) == ({"S": "activity"}, {"S": "2024"})
    plain = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "plain"}})["Item"]
    assert "list_name" not in plain and "list_pos" not in plain  # absent: not in the index


def _names_of_bytes(body_bytes: int) -> Names:
    """Pipeline names of the longest kind CodePipeline allows (100 characters; some 99) whose
    ledger record body is exactly `body_bytes` long."""
    base = len(dump_entry(Names(("",), 1.0)).encode()) - 2  # without the empty name's quotes
    count = -(-(body_bytes - base + 1) // 103)  # each name: 100 characters, quotes and comma
    excess = base + count * 103 - 1 - body_bytes  # shorten that many names by one character
    listed = Names(tuple(f"{n:0{99 if n < excess else 100}d}" for n in range(count)), 1.0)
    assert len(dump_entry(listed).encode()) == body_bytes
    return listed


def test_pipeline_names_are_kept_only_while_they_fit_in_one_item(
    clock_and_store: tuple[Clock, Store],
) -> None:
    _, store = clock_and_store
    ledger = Ledger(store, clock=lambda: 2.0)
    # GIVEN as many of the longest pipeline names as fit in one ledger record: they are kept
    fits = _names_of_bytes(NAMES_MAX_BYTES)
    ledger.put_names("111", "eu-west-1", fits)
    assert ledger.names("111", "eu-west-1") == fits
    # WHEN one byte more is listed (5 pages of 1,000 names of 100 characters make 515 KB,
    # and DynamoDB refuses an item over 400 KB) THEN it is not written, and nothing fails
    ledger.put_names("111", "eu-west-2", _names_of_bytes(NAMES_MAX_BYTES + 1))
    assert ledger.names("111", "eu-west-2") is None
    ledger.put_names("111", "eu-west-3", Names(tuple(f"{n:0100d}" for n in range(5000)), 3.0))
    assert ledger.names("111", "eu-west-3") is None


def _item(key: str, expires_at: float) -> dict[str, Any]:
    """A record as the `lists` index returns it (all attributes projected)."""
    return {
        "pk": {"S": key},
        "version": {"N": "1"},
        "body": {"S": "{}"},
        "expires_at": {"N": f"{expires_at:.0f}"},
        "list_name": {"S": "sweep"},
        "list_pos": {"S": f"000000000001#{key}"},
    }


def test_a_query_of_the_index_reads_page_after_page_until_no_last_evaluated_key() -> None:
    # GIVEN DynamoDB's Query answers as its API reference shapes them: a page ends where
    # LastEvaluatedKey (table and index keys of the last item read) says, a page may hold
    # only expired items or none at all and still have one, and the last page has none
    clock = Clock()
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    live, gone = clock.now + DAY, clock.now - 1
    first, second = _item("a", live), _item("b", gone)
    last_b = {k: second[k] for k in ("pk", "list_name", "list_pos")}
    empty_end = {**last_b, "pk": {"S": "b2"}}
    request = {
        "TableName": TABLE,
        "IndexName": INDEX_NAME,
        "KeyConditionExpression": "list_name = :n",
        "ExpressionAttributeValues": {":n": {"S": "sweep"}},
        "ScanIndexForward": True,
    }
    with Stubber(client) as stub:
        stub.add_response(
            "query",
            {"Items": [first, second], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": last_b},
            {**request, "Limit": 3},
        )
        stub.add_response(
            "query",
            {"Items": [], "Count": 0, "ScannedCount": 0, "LastEvaluatedKey": empty_end},
            {**request, "Limit": 2, "ExclusiveStartKey": last_b},
        )
        stub.add_response(
            "query",
            {"Items": [_item("c", live)], "Count": 1, "ScannedCount": 1},
            {**request, "Limit": 2, "ExclusiveStartKey": empty_end},
        )
        # WHEN the sweep's list is read, oldest first, three at most
        records = DynamoStore(TABLE, client=client, clock=clock).query(
            "sweep", newest_first=False, limit=3
        )
        # THEN every page was read, expired items left out, and nothing asked for twice
        stub.assert_no_pending_responses()
    assert [r.key for r in records] == ["a", "c"]
