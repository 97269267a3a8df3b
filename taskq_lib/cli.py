"""The ``taskq`` command line (also ``python -m taskq_lib``).

::

    taskq worker  --app MODULE:REGISTRY [--queue NAME ...| --queues N=W,...] [--concurrency N]
                  [--async-concurrency N]
    taskq serve   --app MODULE:REGISTRY [--host H] [--port P] [--workers N]
    taskq enqueue [--queue NAME] TYPE JSON [--delay S] [--priority P]
    taskq info    [--queue NAME] [--json]
    taskq dlq     list | requeue ID | requeue --all | purge

``TASKQ_REDIS_URL`` (or ``--redis-url``) names the Redis server. Without one, only
``taskq serve --workers N`` runs, on an in-memory queue that its own workers share; the other
commands need Redis and say so. ``TASKQ_API_TOKEN``, if set, is the bearer token that the
HTTP API requires to change the queue or read tasks (an environment variable, so it does not
show in ``ps``); ``taskq serve`` says at start whether one is in force, and warns loudly when it
listens beyond this machine without one.

Exit codes: 0 done, 1 failed (for example Redis unreachable), 2 wrong usage, 141 the reader
of the output went away (``taskq dlq list | head``), as for a process ended by SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from . import __version__
from .connection import (
    CLUSTER_SCHEMES,
    REDIS_URL_ENV,
    SENTINEL_SCHEMES,
    Client,
    get_redis,
    redact,
)
from .connection import redis_url as env_redis_url
from .errors import CancelRefused, DecodeError, InvalidTask, UniqueKeyConflict
from .events import LoggedEvents
from .interface import TaskQueue
from .limits import MAX_DELAY
from .logtext import oneline
from .memory import MemoryQueue
from .multi_queue import MultiQueue, parse_weights
from .periodic import Schedule, Scheduler
from .presence import Presence
from .redis_queue import RedisQueue
from .registry import Registry, submit, submit_unique
from .status import InspectableQueue, TaskInfo, TrackedQueue
from .task import Task
from .worker import WorkerPool

log = logging.getLogger("taskq.cli")

#: The environment variable holding the API's bearer token.
TOKEN_ENV = "TASKQ_API_TOKEN"
#: The environment variable holding the default log level.
LOG_LEVEL_ENV = "TASKQ_LOG_LEVEL"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Most tasks one take script hands out (see lua/take.lua), so the largest --prefetch.
MAX_PREFETCH = 10_000
#: Shortest --lease: the heartbeat renews leases every lease/3 seconds, and a renewal must
#: reach Redis well before the lease ends, even on a busy machine.
MIN_LEASE = 1.0
#: Longest --lease, --reaper-period and --shutdown-timeout (a day): longer waits are mistakes,
#: and timeouts past about 292 years do not fit in a thread wait at all.
MAX_WAIT = 24 * 3600.0
#: Most worker threads in one process: more only adds waiting for the GIL and for Redis.
MAX_THREADS = 1000
#: Most coroutines a worker runs at once on its event loop.
MAX_ASYNC = 10_000
#: Exit code when the reader of our output went away: 128 + SIGPIPE, as a shell reports it.
BROKEN_PIPE = 141


class UsageError(Exception):
    """The command was given something it cannot use (exit code 2)."""


class Failed(Exception):
    """The command could not do its work (exit code 1)."""


# --------------------------------------------------------------------- arguments
def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _int_between(low: int, high: int) -> Callable[[str], int]:
    """An argument type: a whole number from ``low`` to ``high``."""

    def number(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}")
        return value

    return number


def _seconds_between(low: float, high: float, why: str = "") -> Callable[[str], float]:
    """An argument type: a number of seconds from ``low`` to ``high``."""

    def seconds(text: str) -> float:
        value = float(text)
        if not low <= value <= high:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"must be {low:g}..{high:g} seconds{why}")
        return value

    seconds.__name__ = "seconds"  # argparse names the type in "invalid seconds value: 'x'"
    return seconds


_seconds = _seconds_between(0.0, MAX_WAIT)
_lease = _seconds_between(
    MIN_LEASE, MAX_WAIT, ": a shorter lease runs out before the heartbeat can renew it"
)
_delay = _seconds_between(0.0, MAX_DELAY)


def _weights(text: str) -> list[tuple[str, int]]:
    try:
        return parse_weights(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 0..65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``taskq`` and its subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--redis-url",
        metavar="URL",
        help=f"the Redis server, like redis://127.0.0.1:6379/0 (default: ${REDIS_URL_ENV})",
    )
    common.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default=os.environ.get(LOG_LEVEL_ENV, "INFO").upper(),
        help=f"how much to log (default: ${LOG_LEVEL_ENV} or INFO)",
    )
    one_queue = argparse.ArgumentParser(add_help=False, parents=[common])
    one_queue.add_argument("--queue", default="default", metavar="NAME", help="the queue's name")
    app_spec = argparse.ArgumentParser(add_help=False)
    app_spec.add_argument(
        "--app",
        required=True,
        metavar="MODULE:REGISTRY",
        help="where the task handlers are, e.g. taskq_lib.examples:registry",
    )

    parser = argparse.ArgumentParser(
        prog="taskq", description="Run and manage taskq workers, the HTTP API and queues."
    )
    parser.add_argument("--version", action="version", version=f"taskq {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser(
        "worker",
        parents=[common, app_spec],
        help="run workers until SIGTERM or SIGINT, then stop gracefully",
        description="Run workers on a Redis queue. SIGTERM or SIGINT (Ctrl+C) stops them "
        "gracefully: tasks in hand finish, prefetched ones go back to the queue.",
    )
    options: list[tuple[str, Callable[[str], Any], float | None, str]] = [
        ("--concurrency", _int_between(1, MAX_THREADS), 4, f"worker threads, 1..{MAX_THREADS}"),
        (
            "--async-concurrency",
            _int_between(1, MAX_ASYNC),
            100,
            f"async def handlers running at once on the event loop, 1..{MAX_ASYNC}",
        ),
        (
            "--prefetch",
            _int_between(1, MAX_PREFETCH),
            None,
            f"tasks taken (and acks sent) per round trip, 1..{MAX_PREFETCH}; default: adapted "
            "to how fast tasks finish (1 for slow handlers, up to 500 for fast ones)",
        ),
        (
            "--lease",
            _lease,
            30.0,
            f"seconds a task stays ours without a heartbeat, {MIN_LEASE:g}..{MAX_WAIT:g}",
        ),
        (
            "--reaper-period",
            _seconds_between(0.01, MAX_WAIT),
            1.0,
            "longest idle wait: how soon an expired lease is noticed when all are idle",
        ),
        ("--shutdown-timeout", _seconds, 30.0, "seconds to wait for tasks in hand when stopping"),
    ]
    for flag, parse, default, text in options:
        worker.add_argument(flag, type=parse, default=default, help=text)
    worker.add_argument(
        "--queue",
        action="append",
        metavar="NAME",
        help="a queue to work (default: default); several, highest first: strict order",
    )
    worker.add_argument(
        "--queues",
        type=_weights,
        metavar="NAME=W,...",
        help="several queues shared by weight, e.g. high=6,default=3,low=1",
    )
    worker.set_defaults(run=run_worker)

    serve = commands.add_parser(
        "serve",
        parents=[one_queue, app_spec],
        help="serve the HTTP API, optionally with in-process workers",
        description=f"Serve the HTTP API. Writes and task reads need a bearer token if "
        f"${TOKEN_ENV} is set. Without Redis, tasks are kept in memory and --workers is required.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on")
    in_process = f"worker threads in this process, 0..{MAX_THREADS}"
    serve.add_argument("--workers", type=_int_between(0, MAX_THREADS), default=0, help=in_process)
    serve.add_argument(
        "--max-body", type=_count, default=64 * 1024, help="largest request body, in bytes"
    )
    serve.add_argument(
        "--max-queued",
        type=_count,
        default=1000,
        help="in-memory queue only: most tasks waiting before 503",
    )
    serve.add_argument(
        "--shutdown-timeout", type=_seconds, default=30.0, help="seconds to wait for workers"
    )
    serve.add_argument("--no-access-log", action="store_true", help="no log line per request")
    serve.set_defaults(run=run_serve)

    enqueue = commands.add_parser(
        "enqueue", parents=[one_queue], help="add a task and print its id"
    )
    enqueue.add_argument("type", help="the task type")
    enqueue.add_argument("payload", metavar="JSON", help="the payload, a JSON object")
    enqueue.add_argument(
        "--delay", type=_delay, default=0.0, help=f"run after S seconds (at most {MAX_DELAY:g})"
    )
    enqueue.add_argument("--priority", type=int, default=0, help="bigger runs sooner")
    enqueue.add_argument("--max-retries", type=int, default=None, help="retries after failure")
    enqueue.add_argument(
        "--app",
        metavar="MODULE:REGISTRY",
        help="if given, refuse a type that this registry does not know",
    )
    enqueue.add_argument(
        "--unique-key",
        metavar="KEY",
        help="enqueue nothing while a task with this key waits or runs; print that task's id",
    )
    enqueue.add_argument(
        "--unique-for",
        type=_seconds_between(0, MAX_DELAY),
        metavar="S",
        help="with --unique-key: hold the key at least S seconds",
    )
    enqueue.add_argument(
        "--wait",
        type=_seconds_between(0, MAX_WAIT),
        metavar="S",
        help="wait up to S seconds for the task to finish and print its status and result "
        "as JSON (exit 1 unless it succeeded)",
    )
    enqueue.set_defaults(run=run_enqueue)

    cancel = commands.add_parser(
        "cancel", parents=[one_queue], help="take back a waiting task (pending or scheduled)"
    )
    cancel.add_argument("task_id", metavar="ID", help="the task's id")
    cancel.set_defaults(run=run_cancel)

    periodic = commands.add_parser(
        "periodic",
        parents=[one_queue, app_spec],
        help="list the periodic schedules, their last tick and their next run",
    )
    periodic.set_defaults(run=run_periodic)

    info = commands.add_parser(
        "info",
        parents=[one_queue],
        help="print pending, scheduled, in-flight, dead and done counts",
    )
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=run_info)

    dlq = commands.add_parser("dlq", help="list, requeue or purge dead tasks")
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[one_queue], help="list dead tasks, oldest first")
    listing.add_argument("--limit", type=_count, default=100, help="at most this many")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_dlq_list)
    requeue = actions.add_parser("requeue", parents=[one_queue], help="run dead tasks again")
    which = requeue.add_mutually_exclusive_group(required=True)
    which.add_argument("task_id", nargs="?", metavar="ID", help="the dead task's id")
    which.add_argument("--all", action="store_true", help="every dead task")
    requeue.set_defaults(run=run_dlq_requeue)
    purge = actions.add_parser("purge", parents=[one_queue], help="forget every dead task")
    purge.set_defaults(run=run_dlq_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``taskq`` with ``argv`` (default: the command line); return the exit code."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit: a closed pipe must be noticed while we can
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly. Point stdout at /dev/null so that
        # Python's own flush at exit does not fail again and print a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format=LOG_FORMAT, stream=sys.stderr)
    level = getattr(logging, args.log_level)
    for name in ("taskq", "uvicorn"):
        logging.getLogger(name).setLevel(level)
    try:
        code: int = args.run(args)
        return code
    except UsageError as exc:
        print(f"taskq {args.command}: {exc}", file=sys.stderr)
        return 2
    except Failed as exc:
        print(f"taskq {args.command}: {exc}", file=sys.stderr)
        return 1
    except DecodeError as exc:  # data another client or version wrote
        print(
            f"taskq {args.command}: the queue holds data this cannot read: {oneline(exc)}",
            file=sys.stderr,
        )
        return 1
    except redis.AuthenticationError:
        print(f"taskq {args.command}: {_auth_problem(_url(args) or '?')}", file=sys.stderr)
        return 1
    except redis.RedisError as exc:
        where = redact(args.redis_url or env_redis_url() or "?")
        print(f"taskq {args.command}: Redis at {where} failed: {oneline(exc)}", file=sys.stderr)
        return 1


def _auth_problem(url: str) -> str:
    """What to say when Redis refused us for want of a (right) password, in plain words."""
    try:
        has_password = urlsplit(url).password is not None
    except ValueError:
        has_password = True
    if has_password:
        return f"Redis at {redact(url)} refused the user name or password given in the URL"
    return (
        f"Redis at {redact(url)} needs a password, and the URL has none: "
        "give it as redis://:PASSWORD@HOST:PORT/DB (or redis://USER:PASSWORD@...)"
    )


# --------------------------------------------------------------------- shared pieces
def load_registry(spec: str) -> Registry:
    """Import ``MODULE:ATTRIBUTE`` (ATTRIBUTE defaults to ``registry``) and check it."""
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "registry"
    if not module_name:
        raise UsageError(f"--app {spec!r}: give MODULE:REGISTRY, like myapp.tasks:registry")
    if os.getcwd() not in sys.path:  # like uvicorn: a module in the current folder is found
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise UsageError(f"--app {spec!r}: no module named {exc.name!r}") from None
        raise  # the module exists but an import inside it failed: show the real error
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise UsageError(f"--app {spec!r}: module {module_name!r} has no {attribute!r}")
    if not isinstance(found, Registry):
        kind = type(found).__name__
        raise UsageError(f"--app {spec!r} is a {kind}, not a taskq_lib.Registry")
    return found


def _url(args: argparse.Namespace) -> str | None:
    url: str | None = args.redis_url or env_redis_url()
    return url


def _client(args: argparse.Namespace) -> tuple[Client, str]:
    """A client of the configured Redis server, and its password-free URL, or a UsageError."""
    url = _url(args)
    if not url:
        raise UsageError(
            f"this command needs a Redis server: set {REDIS_URL_ENV}=redis://HOST:6379/0 or "
            "pass --redis-url (without Redis, only `taskq serve --workers N` runs, on an "
            "in-memory queue)"
        )
    problem = _url_problem(url)
    if problem is None:
        try:
            # A few quick retries: a one-shot command should fail in seconds, not minutes.
            retry = Retry(ExponentialBackoff(cap=1.0, base=0.1), 2)
            client = get_redis(url, socket_connect_timeout=5, socket_timeout=30, retry=retry)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        raise UsageError(f"bad Redis URL {redact(url)!r}: {oneline(problem)}")
    client.ping()  # now, so that a wrong address or password is said before work starts
    return client, redact(url)


def _url_problem(url: str) -> str | None:
    """What is wrong with a Redis URL, in words that never repeat its password; None if fine.

    redis-py accepts some broken URLs silently (a database that is not a number becomes 0) and
    words its errors about others with pieces of the URL, which may be the password.
    """
    scheme, sep, rest = url.partition("://")
    if scheme in (*CLUSTER_SCHEMES, *SENTINEL_SCHEMES):
        return None  # checked by connect, whose errors never hold the password
    if not sep or scheme not in ("redis", "rediss", "unix"):
        return (
            "it must start with redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://"
        )
    userinfo, at, _ = rest.rpartition("@")
    if at and any(char in userinfo for char in "/?#"):
        return "a user name or password holding '/', '?' or '#' must be percent-encoded"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- parsing the port is the check
    except ValueError as exc:  # the password is parsed apart by now: the message cannot hold it
        return str(exc)
    if scheme == "unix":
        return None if parts.path else "a unix:// URL needs the socket's path"
    if not parts.hostname:
        return "it names no host"
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        return f"the database must be a number, like /0, not {database[:20]!r}"
    return None


def _queue(name: str, client: Client, **options: Any) -> RedisQueue:
    try:
        return RedisQueue(name, client, **options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[list[str]]:
    """While inside, SIGTERM and SIGINT set ``stop`` (the list gets the signals' names)."""
    received: list[str] = []

    def handle(signum: int, frame: Any) -> None:
        # Only record here: the main thread logs once it wakes up.
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------- worker
def run_worker(args: argparse.Namespace) -> int:
    """Run workers until SIGTERM or SIGINT; then let tasks in hand finish and give back the rest."""
    registry = load_registry(args.app)
    if args.queue and args.queues:
        raise UsageError("give --queue (strict order) or --queues (weights), not both")
    pairs = args.queues or [(name, 1) for name in args.queue or ["default"]]
    if len({name for name, _ in pairs}) != len(pairs):
        raise UsageError("a queue is named twice")
    client, where = _client(args)
    queues = [
        _queue(
            name,
            client,
            lease=args.lease,
            prefetch=args.prefetch,
            ack_batch=args.prefetch,
            reaper_period=args.reaper_period,
        )
        for name, _ in pairs
    ]
    queue: TaskQueue = queues[0]
    if len(queues) > 1:
        queue = MultiQueue(queues, [w for _, w in pairs] if args.queues else None)
    pool = WorkerPool(
        queue,
        registry,
        concurrency=args.concurrency,
        async_concurrency=args.async_concurrency,
        events=LoggedEvents(),
    )
    # Every worker process runs the schedules, on its first queue; the queue lets one task
    # through per tick.
    scheduler = Scheduler(queues[0], registry.schedules()) if registry.schedules() else None
    stop = threading.Event()
    with _stop_on_signals(stop) as received:
        pool.start()
        # Lists this worker on the dashboard of each queue it takes from.
        presences = [Presence(q).start() for q in queues]
        if scheduler is not None:
            scheduler.start()
            log.info(
                "periodic schedules: %s", "; ".join(_schedule_line(s) for s in scheduler.schedules)
            )
        log.info(
            "worker started: queue %r on %s, %d threads, task types %s",
            ",".join(f"{n}={w}" for n, w in pairs) if args.queues else queue.name,
            where,
            args.concurrency,
            ", ".join(registry.types()) or "(none)",
        )
        stop.wait()
        log.info(
            "%s: stopping; letting %d running tasks finish (at most %.0f s)",
            received[0],
            pool.busy,
            args.shutdown_timeout,
        )
        if scheduler is not None:
            scheduler.stop()
        finished = pool.stop(drain=False, timeout=args.shutdown_timeout)
        for presence in presences:
            presence.stop()
        still_running = pool.busy
        try:
            queue.close()  # sends waiting acks, gives prefetched tasks back to pending
        except redis.RedisError as exc:
            log.error(
                "could not reach Redis to finish up (%s): unacknowledged tasks will run "
                "again once their lease expires",
                exc,
            )
            return 1
    if not finished:
        log.warning(
            "%d tasks were still running after %.0f s; they return to the queue when their "
            "lease expires",
            still_running,
            args.shutdown_timeout,
        )
    log.info("worker stopped")
    return 0


# --------------------------------------------------------------------- serve
def run_serve(args: argparse.Namespace) -> int:
    """Serve the HTTP API with uvicorn, and run ``--workers`` worker threads beside it."""
    import uvicorn

    from .api import create_app

    registry = load_registry(args.app)
    api_queue: InspectableQueue
    worker_queue: RedisQueue | TrackedQueue | None = None
    if _url(args):
        client, url = _client(args)
        api_queue, where = _queue(args.queue, client), f"on {url}"
        if args.workers:
            worker_queue = _queue(args.queue, client)
    else:
        if not args.workers:
            raise UsageError(
                f"without Redis ({REDIS_URL_ENV} or --redis-url), tasks are kept in this "
                "process's memory, where only its own workers can see them: add --workers N"
            )
        worker_queue = TrackedQueue(MemoryQueue(maxsize=args.max_queued, name=args.queue))
        api_queue, where = worker_queue, "in this process's memory"
        log.warning("no Redis: tasks are kept in memory and are lost when the server stops")
    token = os.environ.get(TOKEN_ENV) or None
    log.log(*access_notice(args.host, token))
    app = create_app(api_queue, registry, token=token, max_body_bytes=args.max_body)
    pool = None
    if worker_queue is not None:
        pool = WorkerPool(worker_queue, registry, concurrency=args.workers, events=LoggedEvents())
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_config=None,  # our logging setup, not uvicorn's
            log_level=args.log_level.lower(),
            access_log=not args.no_access_log,
        )
    )
    stop = threading.Event()
    # Our handlers stay installed under uvicorn's own, which re-raises the signal when it has
    # shut down: ours then only record it, so the process ends with code 0, not by the signal.
    with _stop_on_signals(stop):
        if pool is not None:
            pool.start()
        presence = Presence(worker_queue).start() if isinstance(worker_queue, RedisQueue) else None
        log.info("serving queue %r %s with %d in-process workers", args.queue, where, args.workers)
        log.info("dashboard: http://%s:%d/dashboard", args.host, args.port)
        try:
            server.run()
        except SystemExit:  # uvicorn could not start (it logged why, e.g. the port is taken)
            return 1
        finally:
            if presence is not None:
                presence.stop()
            _stop_serving(pool, worker_queue, api_queue, args.shutdown_timeout)
    return 0 if server.started else 1


def access_notice(host: str, token: str | None) -> tuple[int, str]:
    """The start-up log line (level, text) that says who may use the API."""
    if token:
        return logging.INFO, (
            f"bearer token in force (${TOKEN_ENV}): writes, task reads and the dead-letter "
            "queue need it"
        )
    if _is_loopback(host):
        return logging.INFO, (
            f"no bearer token: anyone on this machine may enqueue and read tasks "
            f"(set ${TOKEN_ENV} to require one)"
        )
    return logging.WARNING, (
        f"NO BEARER TOKEN, and listening on {host or 'every address'}: anyone who can reach "
        f"this port may enqueue tasks and read their payloads and results. Set ${TOKEN_ENV}, "
        "or listen on 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, or "": it may resolve to any address
        return False


def _stop_serving(
    pool: WorkerPool | None, worker_queue: Any, api_queue: Any, timeout: float
) -> None:
    in_memory = not isinstance(api_queue, RedisQueue)
    # In memory, waiting tasks die with the process: run them first (bounded).
    if pool is not None and not pool.stop(drain=in_memory, timeout=timeout):
        log.warning("%d tasks were still running after %.0f s", pool.busy, timeout)
    for queue in {id(q): q for q in (worker_queue, api_queue) if q is not None}.values():
        try:
            queue.close()
        except redis.RedisError as exc:
            log.error("could not reach Redis to finish up: %s", exc)
    if in_memory and len(api_queue):
        log.warning("%d tasks were still waiting in memory and are lost", len(api_queue))
    log.info("server stopped")


# --------------------------------------------------------------------- one-shot commands
def run_enqueue(args: argparse.Namespace) -> int:
    """Add one task; print its id."""
    try:
        payload = json.loads(args.payload, parse_constant=_not_json)
    except ValueError as exc:
        raise UsageError(f"JSON is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError("JSON is nested too deeply (the limit is 64 levels)") from None
    if not isinstance(payload, dict):
        raise UsageError('JSON must be a JSON object, like \'{"to": "ana@example.com"}\'')
    fields: dict[str, Any] = {"priority": args.priority, "max_retries": args.max_retries}
    try:  # checked before connecting to Redis: Registry.enqueue in two steps
        if args.app:
            task = load_registry(args.app).new_task(args.type, payload, **fields)
        else:
            task = Task(args.type, payload, **fields)
    except InvalidTask as exc:
        raise UsageError(str(exc)) from None
    if args.unique_for is not None and args.unique_key is None:
        raise UsageError("--unique-for needs --unique-key")
    client, _ = _client(args)
    queue = _queue(args.queue, client)
    try:
        if args.unique_key is None:
            submit(queue, task, delay=args.delay)
        else:
            task = submit_unique(
                queue, task, args.unique_key, unique_for=args.unique_for, delay=args.delay
            )
    except UniqueKeyConflict as exc:
        raise Failed(str(exc)) from None
    except InvalidTask as exc:  # too large for the queue, or a bad unique key
        raise UsageError(str(exc)) from None
    print(task.id)
    if args.wait is None:
        return 0
    found = queue.wait(task.id, args.wait)
    print(json.dumps(_outcome(task.id, found), sort_keys=True))
    return 0 if found is not None and found.state == "succeeded" else 1


def _outcome(task_id: str, found: TaskInfo | None) -> dict[str, Any]:
    """What `--wait` prints: the status, and the result or the last error."""
    if found is None:
        return {"task_id": task_id, "status": "unknown"}
    error = None if found.last_error is None else found.last_error.to_dict()
    return {"task_id": task_id, "status": found.state, "result": found.result, "error": error}


def run_cancel(args: argparse.Namespace) -> int:
    """Take back a waiting task."""
    client, _ = _client(args)
    try:
        found = _queue(args.queue, client).cancel(args.task_id)
    except KeyError:
        raise Failed(f"no task {args.task_id!r} in queue {args.queue!r}") from None
    except CancelRefused as exc:
        raise Failed(str(exc)) from None
    print(f"cancelled task {oneline(found.id)} in queue {args.queue!r}")
    return 0


def _schedule_line(schedule: Schedule) -> str:
    return f"{schedule.name!r} ({schedule.task_type}, {schedule.spec})"


def run_periodic(args: argparse.Namespace) -> int:
    """List the schedules: when each runs, its last tick in the queue, and its next run."""
    schedules = load_registry(args.app).schedules()
    client, _ = _client(args)
    last = _queue(args.queue, client).last_ticks()
    now = time.time()
    print(f"{len(schedules)} periodic schedule(s) for queue {args.queue!r}" + ":" * bool(schedules))
    for schedule in schedules:
        seen = last.get(schedule.name)
        last_text = "never" if seen is None else _when(seen)
        print(
            f"  {oneline(schedule.name)}  {schedule.task_type}  {schedule.spec}  "
            f"last {last_text}  next {_when(schedule.next(now))}"
        )
    return 0


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def run_info(args: argparse.Namespace) -> int:
    """Print how many tasks are in each state."""
    client, where = _client(args)
    stats = _queue(args.queue, client).stats()
    if args.json:
        print(json.dumps({"queue": args.queue, **stats}, sort_keys=True))
        return 0
    print(f"queue {args.queue!r} on {where}")
    labels = [
        ("pending", "pending"),
        ("scheduled", "scheduled"),
        ("in-flight", "in_flight"),
        ("dead", "dead"),
        ("done", "done"),
    ]
    for label, key in labels:
        print(f"  {label:<10} {stats[key]:>8}")
    return 0


def run_dlq_list(args: argparse.Namespace) -> int:
    """Print the dead tasks, oldest first."""
    client, _ = _client(args)
    dead = _queue(args.queue, client).dead_letters(args.limit)
    if args.json:
        print(json.dumps([d.to_dict() for d in dead], indent=2))
        return 0
    print(f"{_tasks(len(dead))} in the dead-letter queue of {args.queue!r}" + (":" * bool(dead)))
    for d in dead:
        died = datetime.fromtimestamp(d.died_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        kind = "?" if d.task is None else d.task.type
        # Ids and errors come from outside: escaped, so they cannot drive the terminal.
        print(f"  {oneline(d.id)}  {kind}  attempts={d.attempts}  died {died}  {oneline(d.error)}")
    return 0


def run_dlq_requeue(args: argparse.Namespace) -> int:
    """Send one dead task, or all of them, back to run again."""
    client, _ = _client(args)
    moved = _queue(args.queue, client).requeue_dead(None if args.all else args.task_id)
    if not moved and not args.all:
        raise Failed(f"task {args.task_id!r} is not in the dead-letter queue of {args.queue!r}")
    print(f"requeued {_tasks(moved)} in queue {args.queue!r}")
    return 0


def run_dlq_purge(args: argparse.Namespace) -> int:
    """Forget every dead task."""
    client, _ = _client(args)
    purged = _queue(args.queue, client).purge_dead()
    print(f"purged {_tasks(purged)} from the dead-letter queue of {args.queue!r}")
    return 0
