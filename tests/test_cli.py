"""The ``taskq`` command line, run in-process through ``main(argv)`` on a real ``redis-server``.

The long-running commands (``worker`` and ``serve``) run as real processes in test_e2e.py;
here they are checked up to the point where they would start.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from support import free_port

from taskq_lib import ErrorInfo, Task, __version__
from taskq_lib.cli import UsageError, access_notice, load_registry, main
from taskq_lib.events import DEAD, SUCCEEDED, Event, LoggedEvents
from taskq_lib.redis_queue import RedisQueue

Run = Callable[..., tuple[int, str, str]]
pytestmark = pytest.mark.real_redis


@pytest.fixture(autouse=True)
def _restore_log_levels() -> Iterator[None]:
    """`main` sets the level of the taskq and uvicorn loggers; put them back afterwards."""
    loggers = [logging.getLogger(name) for name in ("taskq", "uvicorn")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def queue_name() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def queue(real_redis_url: str, queue_name: str) -> Iterator[RedisQueue]:
    """The queue the commands work on, seen from the test's side."""
    client = redis.Redis.from_url(real_redis_url)
    q = RedisQueue(queue_name, client)
    yield q
    q.close()
    q.delete()
    client.close()


@pytest.fixture
def run(
    real_redis_url: str,
    queue_name: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    """Run ``taskq ARGS --queue <test queue>`` with TASKQ_REDIS_URL set; (code, out, err)."""
    monkeypatch.setenv("TASKQ_REDIS_URL", real_redis_url)

    def taskq(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--queue", queue_name])
        out, err = capsys.readouterr()
        return code, out, err

    return taskq


def dead_task(queue: RedisQueue, task_type: str = "email") -> str:
    """Put one task in the dead-letter queue; return its id."""
    queue.put(Task(task_type, {"to": "ana@example.com"}))
    delivery = queue.get(timeout=5)
    assert delivery is not None
    queue.fail(delivery, ErrorInfo("ConnectionError", "smtp down"), retry_in=None)
    return delivery.task.id


# --------------------------------------------------------------------- enqueue and info
def test_enqueue_prints_the_task_id_and_info_counts_it(run: Run, queue: RedisQueue) -> None:
    code, out, err = run("enqueue", "email", '{"to": "ana@example.com"}', "--priority", "3")
    assert code == 0 and err == ""
    task_id = out.strip()
    found = queue.info(task_id)
    assert found is not None and found.state == "queued" and found.task is not None
    assert found.task.payload == {"to": "ana@example.com"} and found.task.priority == 3

    assert run("enqueue", "sms", "{}", "--delay", "60")[0] == 0
    code, out, _ = run("info")
    assert code == 0
    rows = dict(line.split() for line in out.splitlines()[1:])
    assert rows == {"pending": "1", "scheduled": "1", "in-flight": "0", "dead": "0", "done": "0"}

    code, out, _ = run("info", "--json")
    counts = json.loads(out)
    assert counts["pending"] == 1 and counts["scheduled"] == 1 and counts["total_enqueued"] == 2


def test_priority_on_the_command_line_changes_the_order_a_worker_takes(
    run: Run, queue: RedisQueue
) -> None:
    names = {}
    for name, priority in (("later", "0"), ("urgent", "9"), ("soon", "5"), ("later-too", "0")):
        code, out, _ = run("enqueue", "email", json.dumps({"to": name}), "--priority", priority)
        assert code == 0
        names[out.strip()] = name
    taken = []
    for _ in names:
        delivery = queue.get(timeout=2)
        assert delivery is not None
        taken.append(names[delivery.task.id])
        queue.ack(delivery)
    assert taken == ["urgent", "soon", "later", "later-too"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["enqueue", "email", "{not json"], "not valid JSON"),
        (["enqueue", "email", "[1, 2]"], "must be a JSON object"),
        (["enqueue", "email", '{"x": NaN}'], "NaN is not JSON"),
        (["enqueue", "bad type!", "{}"], "malformed"),
        (["enqueue", "email", "{}", "--max-retries", "-1"], "max_retries"),
        (["enqueue", "fax", "{}", "--app", "taskq_lib.examples:registry"], "known types"),
    ],
)
def test_bad_enqueues_are_usage_errors_and_change_nothing(
    run: Run, queue: RedisQueue, args: list[str], says: str
) -> None:
    code, out, err = run(*args)
    assert code == 2 and out == ""
    assert says in err
    assert len(queue) == 0 and queue.stats()["dead"] == 0


def test_enqueue_with_app_accepts_a_registered_type(run: Run, queue: RedisQueue) -> None:
    code, out, _ = run("enqueue", "sms", "{}", "--app", "taskq_lib.examples:registry")
    assert code == 0 and queue.info(out.strip()) is not None


# --------------------------------------------------------------------- dlq
def test_dlq_list_requeue_and_purge(run: Run, queue: RedisQueue) -> None:
    first, second = dead_task(queue), dead_task(queue, "sms")
    code, out, _ = run("dlq", "list")
    assert code == 0
    assert out.splitlines()[0] == f"2 tasks in the dead-letter queue of {queue.name!r}:"
    assert first in out and second in out and "ConnectionError: smtp down" in out
    [row, _] = json.loads(run("dlq", "list", "--json")[1])
    assert row["task_id"] == first and row["type"] == "email" and row["attempts"] == 1
    assert row["error"]["message"] == "smtp down"

    assert run("dlq", "requeue", first) == (0, f"requeued 1 task in queue {queue.name!r}\n", "")
    info = queue.info(first)
    assert info is not None and info.state == "queued"

    code, _, err = run("dlq", "requeue", "no-such-id")
    assert code == 1 and "not in the dead-letter queue" in err
    code, _, err = run("dlq", "requeue", "*")
    assert code == 1 and "not in the dead-letter queue" in err
    assert queue.stats()["dead"] == 1  # "*" is not a wildcard: only --all means all

    dead_task(queue)
    assert run("dlq", "requeue", "--all")[1] == f"requeued 2 tasks in queue {queue.name!r}\n"
    dead_task(queue)
    assert run("dlq", "purge")[1] == f"purged 1 task from the dead-letter queue of {queue.name!r}\n"
    assert queue.stats()["dead"] == 0


def test_dlq_requeue_needs_an_id_or_all(run: Run) -> None:
    with pytest.raises(SystemExit) as exited:
        run("dlq", "requeue")
    assert exited.value.code == 2


# --------------------------------------------------------------------- without Redis
@pytest.mark.parametrize(
    "args",
    [
        ["worker", "--app", "taskq_lib.examples:registry"],
        ["enqueue", "email", "{}"],
        ["info"],
        ["dlq", "list"],
        ["dlq", "purge"],
    ],
)
def test_commands_explain_that_they_need_redis(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TASKQ_REDIS_URL", raising=False)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "needs a Redis server" in err and "TASKQ_REDIS_URL" in err


def test_serve_without_redis_needs_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TASKQ_REDIS_URL", raising=False)
    assert main(["serve", "--app", "taskq_lib.examples:registry"]) == 2
    assert "--workers N" in capsys.readouterr().err


def test_a_bad_redis_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--redis-url", "http://example.com"]) == 2
    assert "bad Redis URL" in capsys.readouterr().err


def test_unreachable_redis_fails_with_exit_code_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    assert main(["info", "--redis-url", url]) == 1
    err = capsys.readouterr().err
    assert "failed" in err and "secret" not in err  # the password is not printed


# --------------------------------------------------------------------- --app
def test_load_registry_finds_the_example_app() -> None:
    registry = load_registry("taskq_lib.examples:registry")
    assert registry.types() == ["email", "notification", "sms"]
    assert load_registry("taskq_lib.examples") is registry  # ":registry" is the default


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no_such_module_xyz:registry", "no module named 'no_such_module_xyz'"),
        ("taskq_lib.examples:nothing", "has no 'nothing'"),
        ("taskq_lib.examples:send_email", "not a taskq_lib.Registry"),
        (":registry", "MODULE:REGISTRY"),
    ],
)
def test_load_registry_says_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        load_registry(spec)


def test_a_module_in_the_current_folder_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"myapp_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "from taskq_lib import Registry\ntasks = Registry()\ntasks.register('hi', print)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert load_registry(f"{module}:tasks").types() == ["hi"]


def test_an_import_error_inside_the_app_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("import not_installed_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency_xyz"):
        load_registry(module)


# --------------------------------------------------------------------- logging and entry points
def test_worker_events_become_one_log_line_each(caplog: pytest.LogCaptureFixture) -> None:
    events = LoggedEvents()
    with caplog.at_level(logging.INFO, logger="taskq"):
        events.record(Event(0.0, SUCCEEDED, "t1", "email", "w0", 1))
        events.record(Event(0.0, DEAD, "t2", "sms", "w1", 3, "ValueError: bad number"))
        events.record(Event(0.0, "started", "t3", "sms", "w1", 1))  # DEBUG: not shown
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "task t1 (email) on w0, run 1 succeeded"),
        (
            "WARNING",
            "task t2 (sms) on w1, run 3 failed for good, dead-lettered: ValueError: bad number",
        ),
    ]
    assert len(events) == 3


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "taskq_lib", "--version"],
        [str(Path(sys.executable).parent / "taskq"), "--version"],
    ],
    ids=["python -m taskq_lib", "taskq script"],
)
def test_the_entry_points_run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"taskq {__version__}"


def test_the_same_rule_at_enqueue_and_a_foreign_body_listed_not_a_crash(
    run: Run, queue: RedisQueue
) -> None:
    deep: dict[str, object] = {}
    for _ in range(100):
        deep = {"a": deep}
    code, _, err = run("enqueue", "email", json.dumps(deep))
    assert code == 2 and "nested" in err and len(queue) == 0
    code, _, err = run("enqueue", "email", '{"n": 18014398509481984}')  # 2**54
    assert code == 2 and "2**53" in err
    good = dead_task(queue)
    body = json.dumps({"v": 1, "id": "deep", "type": "email", "payload": deep})
    queue.client.hset(queue.keys.bodies, "deep", body)
    queue.client.zadd(queue.keys.dead, {"deep": 1_700_000_000_000})
    code, out, _ = run("dlq", "list", "--json")
    assert code == 0
    rows = {row["task_id"]: row for row in json.loads(out)}
    assert rows[good]["payload"] == {"to": "ana@example.com"}
    assert rows["deep"]["payload"] is None and rows["deep"]["raw"]
    code, out, _ = run("dlq", "list")
    assert code == 0 and "deep" in out


@pytest.mark.parametrize(
    ("host", "token", "level", "says"),
    [
        ("0.0.0.0", None, logging.WARNING, "NO BEARER TOKEN, and listening on 0.0.0.0"),
        ("::", None, logging.WARNING, "NO BEARER TOKEN"),
        ("api.example.org", None, logging.WARNING, "NO BEARER TOKEN"),
        ("127.0.0.1", None, logging.INFO, "no bearer token: anyone on this machine"),
        ("localhost", None, logging.INFO, "no bearer token"),
        ("::1", None, logging.INFO, "no bearer token"),
        ("0.0.0.0", "s3cret", logging.INFO, "bearer token in force"),
    ],
)
def test_serve_says_at_start_whether_a_token_is_in_force(
    host: str, token: str | None, level: int, says: str
) -> None:
    found_level, text = access_notice(host, token)
    assert found_level == level and says in text
    assert token is None or token not in text  # the token itself is never logged


def test_info_on_a_counter_another_client_garbled_says_so_without_a_traceback(
    run: Run, queue: RedisQueue
) -> None:
    queue.put(Task("email"))
    queue.client.hset(queue.keys.counters, "enqueued", "lots")
    code, _, err = run("info")
    assert code == 1 and "cannot read" in err and "'lots'" in err and "Traceback" not in err
