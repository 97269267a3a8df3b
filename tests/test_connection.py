"""The course's one-liner (`get_redis`) and the library's refusal to pick a Redis for you."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from taskq_lib.connection import REDIS_URL_ENV, describe, get_redis, is_fake
from taskq_lib.redis_queue import RedisQueue


def test_a_redis_queue_needs_a_client_and_never_falls_back_to_a_fake() -> None:
    with pytest.raises(TypeError):
        RedisQueue("jobs")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"redis\.Redis"):
        RedisQueue("jobs", "redis://127.0.0.1:6379/0")  # type: ignore[arg-type]


def test_get_redis_is_fake_unless_a_url_is_set_and_says_which(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    fake = get_redis()
    assert is_fake(fake) and "fake" in describe(fake)
    monkeypatch.setenv(REDIS_URL_ENV, "redis://127.0.0.1:1/0")
    real = get_redis()
    assert not is_fake(real) and isinstance(real, redis.Redis)


NO_FAKEREDIS = """
import sys
sys.modules["fakeredis"] = None  # as if it were not installed
import taskq_lib, taskq_lib.redis_queue, taskq_lib.cli, taskq_lib.connection
try:
    taskq_lib.connection.get_redis()
except ImportError as exc:
    print(exc)
"""


def test_the_library_works_without_fakeredis_and_the_fake_says_how_to_get_it() -> None:
    env = {"PATH": "/usr/bin:/bin"}  # no TASKQ_REDIS_URL
    done = subprocess.run(
        [sys.executable, "-c", NO_FAKEREDIS], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "taskq-lib[fake]" in done.stdout and REDIS_URL_ENV in done.stdout
