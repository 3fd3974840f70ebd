"""The two stores, against a real SQLite file and moto's DynamoDB: same contract, same races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bot.domain.config import Config
from bot.store import DynamoStore, Record, SqliteStore, Store, StoreError, make_store

TABLE = "deploybot-test"
DAY = 86400


class Clock:
    """A settable clock, so expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def create_table(client: Any) -> None:
    """The table as deploy docs describe it: pk (S) hash key, TTL on expires_at."""
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=TABLE,
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
