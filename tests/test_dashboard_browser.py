"""The dashboard in a real browser: headless Chromium (the system's), driven by Playwright.

The API runs in this process (uvicorn on a free loopback port) over a real ``redis-server``,
with two worker pools under two consumer names. Their handler waits on a gate, so the counts
hold still while the page is read: each worker holds one task, the rest wait. The test checks
that the page shows what ``GET /stats`` says, that a requeue from the page is refused without
the token and works with it, and that markup in a task type or an error shows as text.

Without Playwright or Chromium the test is skipped, saying why; with
``TASKQ_REQUIRE_BROWSER=1`` (as in CI) it fails instead.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import fakeredis
import httpx
import pytest
import redis
from support import CHROMIUM_ARGS, chromium, push_pending, unavailable

from taskq_lib import EventLog, Registry, RetryPolicy, Task, WorkerPool
from taskq_lib.api import create_app
from taskq_lib.api.background import BackgroundServer
from taskq_lib.deadletter import ErrorInfo
from taskq_lib.redis_queue import RedisQueue

pytestmark = [pytest.mark.browser, pytest.mark.real_redis, pytest.mark.slow]

TOKEN = "s3cret-token"
TIMEOUT = 30.0  # seconds: the bound of every wait (they take well under a second)
HOSTILE_TYPE = "<script>window.__pwned = 1</script>"
HOSTILE_ERROR = '<img src=x onerror="window.__pwned = 2"> relay refused'


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install playwright)")
    from playwright.sync_api import expect

    executable = chromium()
    expect.set_options(timeout=TIMEOUT * 1000)  # the page polls every 1 to 5 s
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def stack(real_redis_url: str) -> Iterator[dict[str, Any]]:
    """The API, two worker pools whose ``hold`` tasks wait for ``gate``, and a failing type."""
    name = f"dash-{uuid.uuid4().hex[:8]}"
    gate = threading.Event()
    registry = Registry()

    def hold(task: Task) -> str:
        if not gate.wait(TIMEOUT):
            raise TimeoutError("the test never opened the gate")
        return "held"

    def refuse(task: Task) -> None:
        raise ConnectionError(HOSTILE_ERROR)

    registry.register("hold", hold)
    registry.register("mail", refuse, retry=RetryPolicy(max_retries=0))
    clients = [redis.Redis.from_url(real_redis_url) for _ in range(3)]
    api_queue = RedisQueue(name, clients[0], reaper_period=0.2)
    # A foreign producer's body with markup for a type: the take that meets it dead-letters it.
    body = json.dumps({"v": 1, "id": "foreign-1", "type": HOSTILE_TYPE, "payload": {}})
    clients[0].hset(api_queue.keys.bodies, "foreign-1", body)
    push_pending(api_queue, "foreign-1")
    assert api_queue.get(timeout=1) is None and api_queue.stats()["dead"] == 1
    events = EventLog()
    pools = [
        WorkerPool(
            RedisQueue(name, client, consumer=consumer, reaper_period=0.2),
            registry,
            concurrency=1,
            events=events,
            poll=0.2,
        ).start()
        for client, consumer in zip(clients[1:], ["worker-a:1", "worker-b:2"], strict=True)
    ]
    server = BackgroundServer(create_app(api_queue, registry, token=TOKEN)).start()
    yield {"url": server.url, "gate": gate, "events": events, "queue": api_queue}
    gate.set()
    for pool in pools:
        pool.stop(drain=False, timeout=TIMEOUT)
        pool.queue.close()
    server.stop()
    api_queue.close()
    api_queue.delete()
    for client in clients:
        client.close()


@pytest.fixture
def api(stack: dict[str, Any]) -> Iterator[httpx.Client]:
    """A client of the API that sends the token."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=stack["url"], headers=headers, timeout=TIMEOUT) as client:
        yield client


COUNTS = ["pending", "scheduled", "in_flight", "dead", "done"]


def expect_counts_of_stats(page: Any, api: httpx.Client) -> dict[str, Any]:
    """The page's five counts are those of ``GET /stats`` (which hold still while it is read)."""
    from playwright.sync_api import expect

    stats: dict[str, Any] = api.get("/stats").json()
    for name in COUNTS:
        expect(page.locator(f"#count-{name}")).to_have_text(str(stats[name]))
    assert api.get("/stats").json() == stats, "the counts moved while the page was read"
    return stats


def use_token(page: Any, token: str) -> None:
    from playwright.sync_api import expect

    page.fill("#token", token)
    page.click("#token-form button[type=submit]")
    expect(page.locator("#mode")).to_contain_text("actions use your token")


def test_the_dashboard_shows_the_queue_and_acts_only_with_the_token(
    browser: Any, stack: dict[str, Any], api: httpx.Client
) -> None:
    from playwright.sync_api import expect

    events: EventLog = stack["events"]
    failing = api.post("/tasks", json={"type": "mail", "payload": {"to": "ana@example.com"}})
    failing_id = failing.json()["task_id"]
    assert events.wait_for_final(1, TIMEOUT)
    held = [
        api.post("/tasks", json={"type": "hold", "payload": {"n": n}}).json()["task_id"]
        for n in range(6)
    ]
    assert events.wait_until(lambda log: log.counts()["started"] == 3, TIMEOUT)

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.set_default_timeout(TIMEOUT * 1000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack['url']}/")  # the root leads to the dashboard
    expect(page.locator("#live")).to_have_text("live")

    # While two tasks run and four wait, the counts are those of GET /stats.
    stats = expect_counts_of_stats(page, api)
    assert (stats["pending"], stats["in_flight"], stats["dead"]) == (4, 2, 2)
    workers = page.locator("#workers tbody tr")
    expect(workers).to_have_count(2)
    for consumer in ["worker-a:1", "worker-b:2"]:
        expect(workers.filter(has_text=consumer)).to_contain_text("hold")

    # Markup in a task type is shown as text. The dead-letter queue (payloads, errors) is shown
    # only with the token.
    expect(page.locator("#types code", has_text="<script>")).to_have_text(HOSTILE_TYPE)
    expect(page.locator("#dlq-note")).to_contain_text("type the API token")
    expect(page.locator("#dlq tbody tr")).to_have_count(0)
    use_token(page, TOKEN)
    expect(page.locator("#dlq tbody")).to_contain_text(HOSTILE_ERROR)
    expect(page.locator("#dlq tbody")).to_contain_text(HOSTILE_TYPE)
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__pwned") is None and dialogs == []

    # A payload is shown only when asked.
    row = page.locator(f'#dlq tr[data-task-id="{failing_id}"]')
    expect(row.get_by_text("ana@example.com")).to_be_hidden()
    row.locator("summary", has_text="show").click()
    expect(row.get_by_text("ana@example.com")).to_be_visible()

    # With a wrong token the server refuses the requeue; with the right one, the task goes back.
    use_token(page, "not-the-token")
    row.locator("button.requeue").click()
    expect(page.locator("#message")).to_contain_text("refused (401)")
    assert api.get(f"/tasks/{failing_id}").json()["status"] == "dead"
    use_token(page, TOKEN)
    page.locator(f'#dlq tr[data-task-id="{failing_id}"] button.requeue').click()
    expect(page.locator("#message")).to_have_text(f"requeued task {failing_id}")
    assert api.get(f"/tasks/{failing_id}").json()["status"] == "queued"
    stats = expect_counts_of_stats(page, api)
    assert (stats["pending"], stats["dead"]) == (5, 1)

    # The gate opens: everything runs (the requeued task fails again); the page follows.
    stack["gate"].set()
    assert events.wait_for_final(8, TIMEOUT)
    stats = expect_counts_of_stats(page, api)
    assert (stats["pending"], stats["in_flight"], stats["done"], stats["dead"]) == (0, 0, 6, 2)
    expect(page.locator("#chart polyline.done")).to_have_count(1)

    # A search by id says what became of the task.
    page.fill("#search", held[0])
    page.click("#search-form button")
    expect(page.locator("#search-result")).to_contain_text("succeeded")
    assert page.evaluate("window.__pwned") is None and dialogs == []

    # Forgetting the token hides again what it showed.
    page.click("#token-forget")
    expect(page.locator("#dlq tbody tr")).to_have_count(0)
    expect(page.locator("#dlq-note")).to_contain_text("type the API token")
    assert errors == [], errors  # the page's script never failed


def test_without_a_server_token_the_page_offers_no_action(browser: Any) -> None:
    """Safe by default: with no token set, the write routes are open, so the page offers none."""
    from playwright.sync_api import expect

    registry = Registry()
    registry.register("mail", lambda task: None)
    queue = RedisQueue("open", fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    queue.put(Task("mail", {"to": "ana@example.com"}))
    delivery = queue.get(timeout=1)
    assert delivery is not None
    queue.fail(delivery, ErrorInfo("SMTPError", "relay refused"), retry_in=None)
    server = BackgroundServer(create_app(queue, registry)).start()
    try:
        page = browser.new_page()
        page.goto(f"{server.url}/dashboard")
        expect(page.locator("#dlq tbody")).to_contain_text("relay refused")
        expect(page.locator("#mode")).to_contain_text("read-only: the server has no API token")
        expect(page.locator("#dlq button")).to_have_count(0)
        expect(page.locator("#purge")).to_be_hidden()
        expect(page.locator("#token")).to_be_hidden()
        expect(page.locator("#workers-note")).to_contain_text("No worker seen")
    finally:
        server.stop()
        queue.close()
