"""One way to get a Redis client, for the library and every notebook.

Set ``TASKQ_REDIS_URL`` (``redis://``, ``rediss://`` or ``unix://``, with a password if the
server needs one) to use a real Redis server. Leave it unset to use an embedded fake Redis
(fakeredis) shared by everything in this process: no server, no network, same commands.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis

#: The environment variable that selects a real Redis server.
REDIS_URL_ENV = "TASKQ_REDIS_URL"

_fake_server: Any = None
_fake_lock = threading.Lock()


def redis_url() -> str | None:
    """The real server's URL from the environment, or None for the embedded fake."""
    return os.environ.get(REDIS_URL_ENV) or None


def get_redis(url: str | None = None, **options: Any) -> redis.Redis:
    """A Redis client: for ``url``, else ``$TASKQ_REDIS_URL``, else the embedded fake server.

    The course's one-liner. `describe` says which one it is. The library itself never calls
    this: a `RedisQueue` gets its client from you. Extra keyword arguments go to the client
    (for example ``socket_timeout``).
    """
    url = url or redis_url()
    if url:
        return redis.Redis.from_url(url, **options)
    return fake_redis(**options)


def fake_redis(**options: Any) -> redis.Redis:
    """A client of the embedded fakeredis server that this whole process shares."""
    global _fake_server
    try:
        import fakeredis
    except ImportError:
        raise ImportError(
            f"the embedded fake Redis needs fakeredis: pip install 'taskq-lib[fake]', or set "
            f"{REDIS_URL_ENV} to use a real Redis server"
        ) from None

    with _fake_lock:
        if _fake_server is None:
            _fake_server = fakeredis.FakeServer()
    client: redis.Redis = fakeredis.FakeRedis(server=_fake_server, **options)
    return client


def is_fake(client: redis.Redis) -> bool:
    """True for a fakeredis client."""
    return type(client).__module__.startswith("fakeredis")


def describe(client: redis.Redis) -> str:
    """A one-line, password-free description of where ``client`` points."""
    if is_fake(client):
        return "embedded fake Redis (fakeredis, in this process)"
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        where = f"unix://{kwargs['path']}"
    else:
        where = f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    version = client.info("server").get("redis_version", "?")
    return f"real Redis {version} at {where}"


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for logs. Never raises.

    Works on the text, not on a parse: a malformed URL (a password holding '/', an unclosed
    '[') must not show its password either.
    """
    head, at, host = url.rpartition("@")
    if not at:
        return url
    scheme, sep, userinfo = head.partition("://")
    if not sep:
        return f"***@{host}"
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return url  # a user name only
    return f"{scheme}://{user}:***@{host}"
