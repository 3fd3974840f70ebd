"""Living messages end to end: real samples through the real WebClient, fake Slack and stores."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient
from syrupy.assertion import SnapshotAssertion

from blocks.living import build_failure_reply, build_living_message
from bot.domain.config import Config
from bot.domain.events import parse_payload
from bot.domain.living import State, absorb, build_view, message_key
from bot.domain.model import Deployment, Status
from bot.slack import MessageRef, Poster, WebApiPoster, WebhookPoster, retry_handlers
from bot.store import Record, SqliteStore, Store, StoreError
from handlers.living import Busy, LivingDelivery
from handlers.notifications import deliver_events
from tests.blockkit import violations
from tests.conftest import load_sample
from tests.fake_slack import TOKEN, FakeSlack

CONFIG = Config(failure_mentions=("S0PLATFORM",))
SUCCESS = "codepipeline-notification-flow-success.json"
FAILED = "codepipeline-notification-flow-failed-codedeploy.json"
CHANNEL = "#deployments"


def flow(name: str, execution: str = "") -> list[Deployment]:
    """A real notification flow in delivery order; `execution` renames its execution id."""
    events = parse_payload(load_sample(name))
    if execution:
        events = [replace(e, execution_id=execution) for e in events]
    return events


def web_poster(fake: FakeSlack, timeout: float = 2.0) -> WebApiPoster:
    """The real poster with short backoffs, so retries do not slow the suite down."""
    client = WebClient(
        token=TOKEN, base_url=fake.api_url, timeout=timeout, retry_handlers=retry_handlers(0.01)
    )
    return WebApiPoster(client)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(str(tmp_path / "state.db"))


def deliver_all(events: list[Deployment], poster: Poster, store: Store) -> None:
    _, failures = deliver_events(events, CONFIG, poster, store)
    assert failures == []


def shown(fake: FakeSlack) -> dict[tuple[str, str], dict[str, Any]]:
    """What the channel shows, per (key, slot): text and blocks."""
    out = {}
    for message in fake.messages.get(CHANNEL, []):
        payload = message["metadata"]["event_payload"]
        out[payload["key"], payload["slot"]] = {
            "text": message["text"],
            "blocks": message["blocks"],
        }
    return out


def test_successful_run_is_one_message_updated_in_place(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    # GIVEN the real notifications of a pipeline run with two CodeDeploy actions
    events = flow(SUCCESS)
    # WHEN they are delivered in the order AWS sent them
    deliver_all(events, web_poster(fake_slack), store)
    # THEN one message was posted at the start, then updated in place to the final state
    [post] = fake_slack.posts
    assert post["text"].startswith(":arrow_forward: Pipeline meerkat started")
    [message] = fake_slack.messages[CHANNEL]
    assert message["text"].startswith(":white_check_mark: Pipeline meerkat succeeded")
    progress = json.dumps(message["blocks"])
    assert "Deploy-RED `d-PXMGWFFK3`" in progress
    assert "Deploy-GREEN `d-GFBF8C0QF`" in progress
    updates = fake_slack.calls_to("chat.update")
    assert updates and all(u["ts"] == message["ts"] for u in updates)
    assert message["metadata"]["event_payload"]["status"] == "SUCCEEDED"


def test_failed_run_puts_details_in_the_thread_and_broadcasts_them(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    deliver_all(flow(FAILED), web_poster(fake_slack), store)
    main, reply = fake_slack.messages[CHANNEL]
    assert main["text"].startswith(":x: Pipeline meerkat failed")
    assert "Deploy-GROUP_RED" in json.dumps(main["blocks"])
    # The reply is in the main message's thread, shown in the channel too, and pings the team.
    assert reply["thread_ts"] == main["ts"]
    assert reply["reply_broadcast"] is True
    assert "<!subteam^S0PLATFORM>" in reply["text"]
    details = json.dumps(reply["blocks"])
    for deployment in ("d-C3XYEM1QF", "d-8YX2HV1QF", "d-2BBLC01QF"):
        assert f"Deployment {deployment} failed" in details
    assert len(fake_slack.posts) == 2


@pytest.mark.parametrize("seed", range(5))
def test_shuffled_and_repeated_events_give_the_same_messages(
    fake_slack: FakeSlack, tmp_path: Path, seed: int
) -> None:
    # GIVEN the expected messages, from both flows delivered once in order
    expected_fake = FakeSlack.start()
    try:
        deliver_all(
            flow(SUCCESS) + flow(FAILED),
            web_poster(expected_fake),
            SqliteStore(str(tmp_path / "expected.db")),
        )
        expected = shown(expected_fake)
    finally:
        expected_fake.close()
    # WHEN the same events arrive shuffled, each delivered one to three times
    events = flow(SUCCESS) + flow(FAILED)
    rng = random.Random(seed)
    delivered = [e for e in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(delivered)
    deliver_all(delivered, web_poster(fake_slack), SqliteStore(str(tmp_path / "s.db")))
    # THEN the channel shows the same final messages, each posted once
    assert shown(fake_slack) == expected
    assert sorted(fake_slack.posted_by_key().values()) == [1, 1, 1]


def test_a_late_start_never_moves_a_final_message_back(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    events = flow(SUCCESS)
    started = events[0]
    deliver_all([*events[1:], started], web_poster(fake_slack), store)
    [message] = fake_slack.messages[CHANNEL]
    assert message["text"].startswith(":white_check_mark: Pipeline meerkat succeeded")


def test_a_duplicate_delivery_calls_slack_not_at_all(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    event = replace(flow(SUCCESS)[0], event_id="sns-message-1")
    delivery = LivingDelivery(CONFIG, web_poster(fake_slack), store)
    assert delivery.deliver(event) is True
    calls = len(fake_slack.calls)
    assert delivery.deliver(event) is False  # same SNS MessageId
    assert delivery.deliver(replace(event, event_id="sns-message-2")) is False  # same transition
    assert len(fake_slack.calls) == calls


def test_thirty_percent_faults_every_notification_once(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    # GIVEN six pipeline runs (~190 deliveries with repeats, shuffled) and the messages they
    # should end as, computed without faults
    runs = [flow(SUCCESS if n % 2 else FAILED, f"exec-{n}") for n in range(6)]
    rng = random.Random(7)
    delivered = [e for run in runs for e in run for _ in range(rng.randint(1, 3))]
    rng.shuffle(delivered)
    clean = FakeSlack.start()
    try:
        deliver_all(delivered, web_poster(clean), SqliteStore(str(tmp_path / "clean.db")))
        expected = shown(clean)
    finally:
        clean.close()
    # WHEN Slack fails 30% of all requests: 429, 500, resets, and posts whose answer is lost
    # or late (Slack posted, the client cannot tell); a failed delivery is retried as Lambda
    # would, by a new invocation
    fake_slack.chaos(0.3, seed=11, retry_after=0, timeout_delay=0.4)
    store = SqliteStore(str(tmp_path / "chaos.db"))
    poster = web_poster(fake_slack, timeout=0.25)
    retries = 0
    for event in delivered:
        for _attempt in range(30):
            _, failures = deliver_events([event], CONFIG, poster, store)
            if not failures:
                break
            retries += 1
        else:
            pytest.fail(f"{event} was never delivered")
    # THEN every message is there exactly once, showing what it should
    assert retries > 0
    assert set(fake_slack.posted_by_key().values()) == {1}
    assert shown(fake_slack) == expected


def test_concurrent_invocations_post_one_message(fake_slack: FakeSlack, store: SqliteStore) -> None:
    # GIVEN one run's notifications split over four invocations running at once
    events = flow(FAILED)
    poster = web_poster(fake_slack)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def invocation(part: list[Deployment]) -> None:
        start.wait()
        try:
            for event in part:
                for _ in range(20):  # Busy is what Lambda would retry
                    try:
                        LivingDelivery(CONFIG, poster, store, wait_seconds=2).deliver(event)
                        break
                    except Busy:
                        continue
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=invocation, args=(events[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN one main message and one reply, ending failed
    assert errors == []
    assert sorted(fake_slack.posted_by_key().values()) == [1, 1]
    assert fake_slack.messages[CHANNEL][0]["text"].startswith(":x: Pipeline meerkat failed")


class Crash(BaseException):
    """The Lambda dies (timeout, out of memory): nothing after this line runs."""


class CrashAfterPost:
    """Posts for real, then dies before the ts can be recorded."""

    def __init__(self, poster: WebApiPoster) -> None:
        self.poster = poster

    def post(self, message: dict[str, Any]) -> MessageRef | None:
        self.poster.post(message)
        raise Crash

    def update(self, ref: MessageRef, message: dict[str, Any]) -> None:
        self.poster.update(ref, message)

    def find(self, channel: str, key: str, slot: str, oldest: float) -> MessageRef | None:
        return self.poster.find(channel, key, slot, oldest)


def test_crash_between_post_and_record_does_not_post_twice(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    # GIVEN an invocation that posted the message and died before recording its ts
    first, second = flow(SUCCESS)[:2]
    poster = web_poster(fake_slack)
    with pytest.raises(Crash):
        LivingDelivery(CONFIG, CrashAfterPost(poster), store).deliver(first)
    # WHEN Lambda retries while the dead invocation's lease still holds THEN it waits, then
    # gives up for a later retry
    with pytest.raises(Busy):
        LivingDelivery(CONFIG, poster, store, wait_seconds=0, sleep=lambda _: None).deliver(first)
    # WHEN a retry comes after the lease expired
    later = LivingDelivery(CONFIG, poster, store, lease_seconds=0)
    later.deliver(first)
    later.deliver(second)
    # THEN it found the message by its metadata and updated it, posting nothing new
    assert len(fake_slack.posts) == 1
    assert fake_slack.calls_to("conversations.history")
    [message] = fake_slack.messages[CHANNEL]
    assert {u["ts"] for u in fake_slack.calls_to("chat.update")} == {message["ts"]}
    assert message["text"].startswith(":arrows_counterclockwise: Pipeline meerkat in progress")


class StoreFailsAfterPost:
    """Posts for real; from then on the store is down (it fails between post and record)."""

    def __init__(self, poster: WebApiPoster, store: FlakyStore) -> None:
        self.poster = poster
        self.store = store

    def post(self, message: dict[str, Any]) -> MessageRef | None:
        ref = self.poster.post(message)
        self.store.down = True
        return ref

    def update(self, ref: MessageRef, message: dict[str, Any]) -> None:
        self.poster.update(ref, message)

    def find(self, channel: str, key: str, slot: str, oldest: float) -> MessageRef | None:
        return self.poster.find(channel, key, slot, oldest)


class FlakyStore:
    """A real store that can be switched off."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = False

    def get(self, key: str) -> Record | None:
        if self.down:
            raise StoreError("DynamoDB read failed: throttled")
        return self.store.get(key)

    def put(self, record: Record) -> bool:
        if self.down:
            raise StoreError("DynamoDB write failed: throttled")
        return self.store.put(record)


def test_store_failing_after_a_post_neither_duplicates_nor_loses_it(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    # GIVEN the store goes down right after the message was posted
    first, second = flow(SUCCESS)[:2]
    flaky = FlakyStore(store)
    poster = web_poster(fake_slack)
    _, failures = deliver_events([first], CONFIG, StoreFailsAfterPost(poster, flaky), flaky)
    # THEN the delivery counts as done: no second post without the store
    assert failures == []
    assert len(fake_slack.posts) == 1
    # WHEN the store is back and the next event comes after the lease expired
    flaky.down = False
    LivingDelivery(CONFIG, poster, flaky, lease_seconds=0).deliver(second)
    # THEN the message was found by search and updated, not posted again
    assert len(fake_slack.posts) == 1
    assert len(fake_slack.messages[CHANNEL]) == 1


def test_a_deleted_message_is_posted_again(fake_slack: FakeSlack, store: SqliteStore) -> None:
    first, second = flow(SUCCESS)[:2]
    delivery = LivingDelivery(CONFIG, web_poster(fake_slack), store)
    delivery.deliver(first)
    fake_slack.messages[CHANNEL].clear()  # someone deleted it
    delivery.deliver(second)
    assert len(fake_slack.messages[CHANNEL]) == 1
    assert len(fake_slack.posts) == 2


class BrokenStore:
    """A store whose backend is down."""

    def get(self, key: str) -> Record | None:
        raise StoreError("DynamoDB read failed: throttled")

    def put(self, record: Record) -> bool:
        raise StoreError("DynamoDB write failed: throttled")


def test_store_outage_degrades_to_posting_without_updates(fake_slack: FakeSlack) -> None:
    changed, failures = deliver_events(flow(SUCCESS), CONFIG, web_poster(fake_slack), BrokenStore())
    assert failures == []
    # The noise policy's per-event posts: started and succeeded; nothing is silenced
    texts = [p["text"] for p in fake_slack.posts]
    assert [t.split(" ")[:3] for t in texts] == [
        [":arrow_forward:", "Pipeline", "meerkat"],
        [":white_check_mark:", "Pipeline", "meerkat"],
    ]
    assert changed == 2


@pytest.mark.parametrize(("name", "words"), [(SUCCESS, "succeeded"), (FAILED, "failed")])
def test_webhook_mode_posts_once_per_final_state(
    fake_slack: FakeSlack, store: SqliteStore, name: str, words: str
) -> None:
    poster = WebhookPoster(WebhookClient(fake_slack.webhook_url))
    deliver_all(flow(name) + flow(name), poster, store)
    [post] = fake_slack.calls_to("webhook")
    assert f"Pipeline meerkat {words}" in post["text"]
    if words == "failed":
        assert "<!subteam^S0PLATFORM>" in post["text"]


def test_codedeploy_events_join_the_execution_that_names_them(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    # GIVEN a failed run whose action events name deployment d-C3XYEM1QF
    events = flow(FAILED)
    trigger = parse_payload(load_sample("codedeploy-trigger-failure.json"))[0]
    late = replace(trigger, deployment_id="d-C3XYEM1QF")
    # WHEN CodeDeploy's own failure notification for that deployment arrives afterwards
    deliver_all([*events, late], web_poster(fake_slack), store)
    # THEN it updated the execution's messages instead of posting its own
    assert set(fake_slack.posted_by_key()) == {
        ("execution#7705a421-5549-4b28-a4ad-2150fee793e8", "main"),
        ("execution#7705a421-5549-4b28-a4ad-2150fee793e8", "reply"),
    }
    reply = fake_slack.messages[CHANNEL][1]
    assert trigger.error is not None
    assert trigger.error.code in json.dumps(reply["blocks"])


def test_enriched_codedeploy_event_keys_by_its_execution() -> None:
    trigger = parse_payload(load_sample("codedeploy-trigger-failure.json"))[0]
    assert message_key(trigger) == "deployment#d-MainDeployment"
    assert message_key(replace(trigger, execution_id="e-1")) == "execution#e-1"


def test_standalone_deployment_is_one_message_with_a_failure_reply(
    fake_slack: FakeSlack, store: SqliteStore
) -> None:
    events = [
        *parse_payload(load_sample("codedeploy-trigger-failure-created.json")),
        *parse_payload(load_sample("codedeploy-trigger-failure.json")),
    ]
    deliver_all(events, web_poster(fake_slack), store)
    main, reply = fake_slack.messages[CHANNEL]
    assert main["text"].startswith(":x: Deployment failed")
    assert "ECS_UPDATE_ERROR" not in json.dumps(main["blocks"])  # the why is in the thread
    assert "ECS_UPDATE_ERROR" in json.dumps(reply["blocks"])
    assert reply["thread_ts"] == main["ts"]


def test_a_lone_deployments_failure_reply_says_its_title_once() -> None:
    # GIVEN a deployment of no pipeline that failed (it is the message's head and its failure)
    events = [
        *parse_payload(load_sample("codedeploy-trigger-failure-created.json")),
        *parse_payload(load_sample("codedeploy-trigger-failure.json")),
    ]
    # WHEN its thread reply is built
    reply = build_failure_reply(_view_after(events))
    # THEN the title heads it once, and the failure follows without repeating it
    texts = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    title = texts[0].split("\n")[0]
    assert title.startswith(":x: *Deployment failed")
    assert sum(line == title for text in texts for line in text.split("\n")) == 1
    assert "ECS_UPDATE_ERROR" in json.dumps(reply["blocks"])
    assert violations(reply) == []


# --- snapshots of what the channel shows ---------------------------------------------------


def _view_after(events: list[Deployment]) -> Any:
    state = State()
    for event in events:
        state = absorb(state, event) or state
    return build_view(message_key(events[0]), state.events.values())


@pytest.mark.parametrize(
    ("name", "count"),
    [(SUCCESS, 1), (SUCCESS, 8), (SUCCESS, 15), (FAILED, 14), (FAILED, 17)],
    ids=["started", "building", "succeeded", "first-failure", "failed"],
)
def test_living_message_snapshot(name: str, count: int, snapshot_json: SnapshotAssertion) -> None:
    message = build_living_message(_view_after(flow(name)[:count]), site_url="https://x.example")
    assert violations(message) == []
    assert message == snapshot_json


def test_failure_reply_snapshot(snapshot_json: SnapshotAssertion) -> None:
    view = _view_after(flow(FAILED))
    assert view.head.status is Status.FAILED
    reply = build_failure_reply(view, mentions=CONFIG.failure_mentions)
    assert violations(reply) == []
    assert reply == snapshot_json


def test_failure_reply_carries_the_failed_lifecycle_event_and_its_log_tail() -> None:
    from bot.domain.model import FailureDetail

    # GIVEN the failed deployment actions enriched with why they failed (a long, hostile log)
    log = "\n".join(f"<!channel> step {n} ```" for n in range(400)) + "\nERROR: health check"
    detail = FailureDetail(
        "ValidateService", "i-0abc", "scripts/check.sh", "ScriptFailed", "exit 1", log
    )
    events = [
        replace(e, failure_details=(detail,))
        if e.status is Status.FAILED and e.deployment_id
        else e
        for e in flow(FAILED)
    ]
    # WHEN the thread reply is built
    reply = build_failure_reply(_view_after(events))
    # THEN it shows where it failed and the end of the log, escaped and within limits
    text = json.dumps(reply, ensure_ascii=False)
    assert "*Failed at* `ValidateService`" in text
    assert "ERROR: health check\\n```" in text
    assert "<!channel>" not in text
    assert violations(reply) == []


def test_hostile_failure_text_stays_escaped_and_within_limits() -> None:
    events = flow(FAILED)
    hostile = [
        replace(e, action=f"<!channel> {'x' * 300}", summary="<@U1> " * 900, stage="<!here>")
        if e.status is Status.FAILED
        else e
        for e in events
    ]
    many = [replace(e, action=f"{e.action}-{n}") for e in hostile for n in range(20)]
    view = _view_after(many)
    for message in (build_living_message(view), build_failure_reply(view)):
        assert violations(message) == []
        text = json.dumps(message)
        assert "<!channel>" not in text and "<!here>" not in text and "<@U1>" not in text
