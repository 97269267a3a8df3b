"""One way to get a Redis client, for the library and every notebook.

Set ``TASKQ_REDIS_URL`` (``redis://``, ``rediss://`` or ``unix://``, with a password if the
server needs one) to use a real Redis server. Leave it unset to use an embedded fake Redis
(fakeredis) shared by everything in this process: no server, no network, same commands.

Two more schemes reach more than one server (see `connect`):

* ``redis+cluster://[user:password@]host:port[,host:port...]``: a Redis Cluster, through any
  of its nodes (redis-py's ``RedisCluster`` finds the others);
* ``redis+sentinel://[:password@]host:port[,host:port...]/service[/db]``: the master that the
  Sentinels know as ``service``, found again after a failover.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import unquote

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

#: The environment variable that selects a real Redis server.
REDIS_URL_ENV = "TASKQ_REDIS_URL"
#: URL schemes of a Redis Cluster (plain or TLS) and of a master found through Sentinel.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel",)

#: A client `RedisQueue` works with: one server (or a Sentinel's master), or a cluster.
Client = redis.Redis | RedisCluster

_fake_server: Any = None
_fake_lock = threading.Lock()


def redis_url() -> str | None:
    """The real server's URL from the environment, or None for the embedded fake."""
    return os.environ.get(REDIS_URL_ENV) or None


def get_redis(url: str | None = None, **options: Any) -> Client:
    """A Redis client: for ``url``, else ``$TASKQ_REDIS_URL``, else the embedded fake server.

    The course's one-liner. `describe` says which one it is. The library itself never calls
    this: a `RedisQueue` gets its client from you. Extra keyword arguments go to the client
    (for example ``socket_timeout``).
    """
    url = url or redis_url()
    if url:
        return connect(url, **options)
    return fake_redis(**options)


def connect(url: str, **options: Any) -> Client:
    """A client for ``url``: one server, a Redis Cluster or a master behind Sentinels.

    Raises ValueError, in words that never hold the password, for a URL that cannot work.
    """
    scheme = url.partition("://")[0]
    if scheme in CLUSTER_SCHEMES:
        user, password, nodes, _ = _split(url)
        if scheme.startswith("rediss"):
            options.setdefault("ssl", True)
        startup = [ClusterNode(host, port) for host, port in nodes]  # type: ignore[no-untyped-call]
        return RedisCluster(
            startup_nodes=startup,
            username=user,
            password=password,
            **options,
        )
    if scheme in SENTINEL_SCHEMES:
        user, password, nodes, path = _split(url)
        service, _, db = path.partition("/")
        if not service:
            raise ValueError("a redis+sentinel:// URL names the service: .../mymaster[/db]")
        if db and not db.isdigit():
            raise ValueError(f"the database must be a number, like /0, not {db[:20]!r}")
        sentinel_options = {k: v for k, v in options.items() if k.startswith("socket_")}
        sentinel = Sentinel(nodes, sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
        master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            service, username=user, password=password, db=int(db or 0), **options
        )
        return master
    return redis.Redis.from_url(url, **options)


def _split(url: str) -> tuple[str | None, str | None, list[tuple[str, int]], str]:
    """User, password, (host, port) list and path of a cluster or sentinel URL."""
    rest = url.partition("://")[2]
    userinfo, at, rest = rest.rpartition("@")
    user, password = None, None
    if at:
        if any(char in userinfo for char in "/?#"):
            raise ValueError("a user name or password holding '/', '?' or '#' must be encoded")
        name, colon, secret = userinfo.partition(":")
        user, password = (unquote(name) or None), (unquote(secret) if colon else None)
    hosts, _, path = rest.partition("/")
    nodes = []
    for item in hosts.split(","):
        host, colon, port = item.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"each node is host:port, not {item[:60]!r}")
        nodes.append((host.strip("[]"), int(port)))
    return user, password, nodes, path.strip("/")


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


def is_fake(client: Client) -> bool:
    """True for a fakeredis client."""
    return type(client).__module__.startswith("fakeredis")


def describe(client: Client) -> str:
    """A one-line, password-free description of where ``client`` points."""
    if is_fake(client):
        return "embedded fake Redis (fakeredis, in this process)"
    if isinstance(client, RedisCluster):
        primaries = client.get_primaries()  # type: ignore[no-untyped-call]
        masters = sorted(f"{n.host}:{n.port}" for n in primaries)
        return f"real Redis Cluster, {len(masters)} masters: {', '.join(masters)}"
    service = getattr(client.connection_pool, "service_name", None)
    if service is not None:
        host, port = client.connection_pool.get_master_address()  # type: ignore[attr-defined]
        return f"real Redis master {service!r} at {host}:{port}, found through Sentinel"
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
