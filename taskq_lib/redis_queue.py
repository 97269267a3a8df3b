"""A reliable Redis queue: at-least-once delivery with leases, retries, delays and a DLQ.

The Go original popped a task with ``BLPOP``. From that moment the task existed only in the
worker's memory, so a worker that crashed mid-task lost it (at-most-once delivery). Here,
taking a task moves it atomically (one Lua script) from *pending* to *in flight* with:

* a **lease** (visibility timeout): a deadline by which the worker must finish or renew;
* a **token** for this one delivery.

While a handler runs, a heartbeat thread renews the leases this consumer holds. Acknowledge
and fail are scripts that check the token, so a worker whose lease expired cannot complete a
task that was meanwhile handed to another worker. Expired leases go back to pending (or, after
``max_attempts`` attempts, to the dead-letter queue) inside the next take, run by any
consumer. The same take script promotes due delayed tasks, so no task is promoted twice
however many consumers run. Every state change is one script: nothing is lost between two
commands.

Throughput comes from batching: ``prefetch`` takes many tasks per round trip and
``ack_batch`` acknowledges many per round trip, sent in the same pipeline as the next take.
By default the batch adapts to how fast this process finishes tasks (`taskq_lib.prefetch`):
many when handlers are fast, one when they are slow.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster

from .clock import SYSTEM_CLOCK, Clock
from .connection import Client
from .deadletter import DeadLetter, ErrorInfo
from .errors import CancelRefused, DecodeError, InvalidTask, QueueClosed, UniqueKeyConflict
from .interface import Delivery, check_put
from .keys import QueueKeys
from .limits import DEFAULT_MAX_RESULT_BYTES, check_payload, encode_value
from .logtext import oneline
from .prefetch import AdaptivePrefetch
from .ratelimit import Limiter, RedisLimiter
from .scripts import assemble, load
from .status import STATES, InspectableQueue, Status, TaskInfo, check_wait
from .task import DEFAULT_MAX_BYTES, Task, decode, dumps, encode
from .unique import Claim

log = logging.getLogger("taskq.redis")

#: Waits shorter than this are timed here, not by Redis, whose blocking timeouts are only
#: about 100 ms precise (they are checked ``hz`` = 10 times a second).
LOCAL_WAIT = 0.25
#: Longest lease (and reaper period): a day. A task that runs longer should be split, and a
#: longer wait overflows the heartbeat thread's timer.
MAX_LEASE = 24 * 3600.0
#: Aging counts from here (ms, 2026-01-01 UTC): scores stay small enough to stay exact.
AGING_EPOCH = 1_767_225_600_000
#: Most tasks one enqueue script call carries; bigger batches are split (in one pipeline).
ENQUEUE_CHUNK = 500
#: Longest `RedisQueue.wait` relies on announcements alone before reading the status again.
WAIT_RECHECK = 5.0


class RedisQueue(InspectableQueue):
    """A queue in Redis with at-least-once delivery.

    Args:
        name: the queue's name; its keys are ``taskq:{name}:*``.
        client: a redis-py client. There is no default: a service must not fall back to an
            in-process fake without saying so. ``connection.get_redis()`` picks the course's
            (the fake, or the server ``TASKQ_REDIS_URL`` names).
        lease: seconds a delivery stays ours without a heartbeat.
        prefetch: most tasks taken per round trip and held locally; None (the default)
            adapts it to how fast this process finishes tasks (see `taskq_lib.prefetch`).
        ack_batch: acknowledgements collected before one round trip sends them; None sends
            them with the next take, or once as many as the current batch are waiting (a
            task's "succeeded" then shows in Redis a few milliseconds later).
        max_attempts: attempts whose lease expired before the task is dead-lettered (a task
            that keeps killing its worker); 0 means no limit.
        retention: seconds a succeeded task's status and result are kept.
        dead_max, dead_max_age: bounds of the dead-letter queue (tasks, seconds).
        max_bytes: the largest encoded task accepted.
        max_result_bytes: the largest encoded result stored; `ack` refuses a bigger one.
        reaper_period: longest wait between two takes of an idle consumer; bounds how late an
            expired lease is noticed when every consumer is idle.
        consumer: this consumer's name, the start of its delivery tokens (default
            ``host:pid``), to see in Redis which process holds which task.
        clock: where "now" comes from. Every machine must agree on time (NTP) to within a
            small fraction of ``lease``.
        aging: priority points a task gains per second it has been due, as in `PriorityQueue`
            (0: strict priority). It is set when a task is put, so every producer of a queue
            should use the same value.

    ``Task.priority`` orders pending tasks: bigger runs sooner, first-in first-out among
    equals; a retried or requeued task goes to the back of its priority's line, one whose
    lease expired back to its place. On Redis Cluster (``redis.cluster.RedisCluster``) every
    key of the queue is in one slot, and each script call is sent on its own.
    """

    def __init__(
        self,
        name: str,
        client: Client,
        *,
        lease: float = 30.0,
        prefetch: int | None = None,
        ack_batch: int | None = 1,
        max_attempts: int = 10,
        retention: float = 24 * 3600.0,
        dead_max: int = 10_000,
        dead_max_age: float = 7 * 24 * 3600.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        reaper_period: float = 1.0,
        clock: Clock = SYSTEM_CLOCK,
        consumer: str | None = None,
        aging: float = 0.0,
    ) -> None:
        if not (0 < lease <= MAX_LEASE and 0 < reaper_period <= MAX_LEASE):
            # NaN and inf fail these comparisons too; a lease of 1e12 s overflows the heartbeat.
            raise ValueError(
                f"lease and reaper_period must be > 0 and at most {MAX_LEASE:.0f} s (a day), "
                f"got {lease!r} and {reaper_period!r}"
            )
        if (prefetch is not None and prefetch < 1) or (ack_batch is not None and ack_batch < 1):
            raise ValueError("prefetch and ack_batch must be >= 1 (or None: adaptive)")
        if not isinstance(client, (redis.Redis, RedisCluster)):
            raise TypeError(
                f"client must be a redis.Redis or a RedisCluster, not {type(client).__name__}: "
                "a service passes taskq_lib.connection.connect(url), a notebook get_redis()"
            )
        if not 0 <= aging < math.inf:
            raise ValueError(f"aging must be a finite number >= 0, not {aging!r}")
        self.aging = aging
        #: On Redis Cluster, scripts are not sent in pipelines (redis-py refuses them there).
        self.cluster = isinstance(client, RedisCluster)
        self.name, self.keys, self.client = name, QueueKeys(name), client
        # How tasks are handed out.
        self.lease, self.prefetch, self.ack_batch = lease, prefetch, ack_batch
        #: Sizes each take when ``prefetch`` is None; its ``size`` is the batch now.
        self.adaptive = AdaptivePrefetch(lease)
        self.max_attempts = max_attempts
        # What is kept, how big, and for how long.
        self.retention = retention
        self.dead_max, self.dead_max_age = dead_max, dead_max_age
        self.max_bytes, self.max_result_bytes = max_bytes, max_result_bytes
        # When.
        self.reaper_period, self.clock = reaper_period, clock
        #: Starts every delivery token this consumer gets, so one can tell who holds a task.
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}"
        self.lost_leases = 0  # acks and fails refused because the lease had moved on
        #: When the last take said something is next due (ms; -1: nothing), see `_take`.
        self.next_ms = -1
        self._scripts = load(client)
        #: The keys each script gets, in the order its header names them.
        self._keys = {name: self.keys.of(assemble(name).keys) for name in self._scripts}
        enqueue_keys = self._keys["enqueue"]
        #: What every single put sends before its own arguments: sha, numkeys, keys.
        self._enqueue_head = tuple(
            x.encode() for x in (self._scripts["enqueue"].sha, str(len(enqueue_keys)))
        ) + tuple(key.encode() for key in enqueue_keys)
        #: The same, packed in Redis's protocol once (EVALSHA, sha, numkeys, keys + 5 args).
        head = (b"EVALSHA", *self._enqueue_head)
        self._enqueue_packed = b"*%d\r\n" % (len(head) + 5) + b"".join(_bulk(x) for x in head)
        #: A connection kept for puts (taking one from the pool costs as much as packing the
        #: command); a put that finds it in use by another thread takes one from the pool.
        self._put_conn: Any = None
        self._put_pid = 0
        self._put_lock = threading.Lock()
        self._lock = threading.Lock()
        self._buffer: deque[Delivery] = deque()  # taken, not yet handed to a worker
        self._buffered_at = 0.0  # when the buffer was last filled (monotonic)
        self._held: dict[str, str] = {}  # id -> token of every delivery this consumer holds
        self._acks: list[str] = []  # flat (id, token, result) triples waiting to be sent
        self._wake = threading.Event()  # cuts short a local wait (a put, a wake)
        self._wakeups = 0  # bumped by wake(): waiting gets return None
        self._closed = False
        self._heartbeat_stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # ----------------------------------------------------------------- producing
    def put(self, task: Task, *, delay: float = 0.0, timeout: float | None = None) -> None:
        """Add a task (one atomic script). Redis has no bound: ``timeout`` never waits.

        All or nothing, and the answer says which: when it raises, the task is not queued.
        If the reply was lost (a timeout after the script ran), or the client's own retry ran
        the script a second time, what Redis holds tells: this very call's write (the same
        body, enqueued at this call's time, due when it asked) is there, so the put succeeded.
        Only if Redis cannot even be asked afterwards is the outcome unknown (it raises). (So a
        second put of the same task in the same millisecond with the same delay is taken for a
        retry of the first, and changes nothing.)
        """
        # The hottest call, so its own path: no chunking, and EVALSHA straight on a pooled
        # connection with the arguments that never change already encoded. Anything unusual
        # (a lost script cache, a lost connection) goes the careful way below.
        now, due = self._enqueue_times(delay, timeout)
        body = encode(task, self.max_bytes, compact=True)
        score = self._score(task, now, due)
        if not _stock_client(self.client):  # wrapped (tracing, fault injection): go through it
            known = self._put_carefully(task, body, now, due, score)
        else:
            try:
                known = self._evalsha_enqueue(now, task.id, body, due, score)
            except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.NoScriptError):
                known = self._put_carefully(task, body, now, due, score)
        if known and self._wrote(task.id, body, now, due):  # a retry found our own first run
            known = []
        self._check_known(known)

    def _evalsha_enqueue(
        self, now: int, task_id: str, body: bytes, due: int, score: int | float
    ) -> Any:
        """One enqueue call, packed here and sent on a kept connection, without redis-py's
        per-command machinery (packing, pool, retries, callbacks), which costs as much as the
        rest of a put. A connection that fails is dropped, not used again."""
        command = b"".join(
            (
                self._enqueue_packed,
                _bulk(b"%d" % now),
                _bulk(task_id.encode()),
                _bulk(body),
                _bulk(b"%d" % due),
                _bulk(repr(score).encode()),
            )
        )
        stock: Any = self.client  # a plain redis.Redis here (see `_stock_client`)
        pool = stock.connection_pool  # redis-py leaves Connection untyped
        kept = self._put_lock.acquire(blocking=False)
        try:
            if kept and (self._put_conn is None or self._put_pid != os.getpid()):
                # First put, or a forked child: never share the parent's socket.
                self._put_conn, self._put_pid = pool.get_connection(), os.getpid()
            conn = self._put_conn if kept else pool.get_connection()
            try:
                conn.send_packed_command([command])
                return conn.read_response()
            except (redis.ConnectionError, redis.TimeoutError):
                conn.disconnect()  # a reply may be unread: the connection must start afresh
                raise
            finally:
                if not kept:
                    pool.release(conn)
        finally:
            if kept:
                self._put_lock.release()

    def _put_carefully(
        self, task: Task, body: bytes, now: int, due: int, score: int | float
    ) -> Any:
        """The put through redis-py's own retries; a reply lost after the script ran is
        found out by reading what Redis holds."""
        args = (now, task.id, body, due, score)
        client: Any = self.client  # redis-py leaves execute_command untyped
        try:
            try:
                known = client.execute_command("EVALSHA", *self._enqueue_head, *args)
            except redis.exceptions.NoScriptError:  # the server restarted or flushed scripts
                client.script_load(self._scripts["enqueue"].script)
                known = client.execute_command("EVALSHA", *self._enqueue_head, *args)
        except (redis.ConnectionError, redis.TimeoutError):
            if not self._wrote(task.id, body, now, due):  # it did not run: nothing was queued
                raise
            known = []
        return known

    def _score(self, task: Task, now: int, due: int) -> int | float:
        """The task's score on pending (smaller runs sooner): -priority, less what aging gives
        for the time it has been due, counted from `AGING_EPOCH` to keep scores small."""
        if not self.aging:
            return -task.priority
        return self.aging * (max(now, due) - AGING_EPOCH) / 1000 - task.priority

    def _wrote(self, task_id: str, body: bytes, now: int, due: int) -> bool:
        """Does Redis hold the write of the enqueue call made with these arguments?"""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.bodies, task_id)
        pipe.hget(self.keys.state, task_id)
        pipe.zscore(self.keys.scheduled, task_id)
        stored, state, score = pipe.execute()
        status = Status.SCHEDULED if due > now else Status.QUEUED
        return (
            stored == body
            and _text(state or b"") == f"{status}:{now}"  # the state this call's script set
            and (due <= now or score == due)
        )

    def put_many(
        self, tasks: Iterable[Task], *, delay: float = 0.0, timeout: float | None = None
    ) -> None:
        """Add tasks in as few round trips as possible (one script call per 500 tasks).

        Each call is atomic per chunk: if a task id is already known, that chunk adds nothing
        and `InvalidTask` names the id.
        """
        now, due = self._enqueue_times(delay, timeout)
        chunks = _chunks(tasks, ENQUEUE_CHUNK)
        first = next(chunks, None)
        if first is None:
            return
        args = [now, *self._enqueue_args(first, now, due)]
        second = next(chunks, None)
        if second is None:  # one round trip: a pipeline with a script sends SCRIPT EXISTS first
            replies = [self._run("enqueue", args)]
        elif self.cluster:  # no connection pool to stream on: one call per chunk
            replies = [self._run("enqueue", args)]
            for chunk in itertools.chain([second], chunks):
                replies.append(self._run("enqueue", [now, *self._enqueue_args(chunk, now, due)]))
        else:
            replies = self._stream_enqueue(args, itertools.chain([second], chunks), now, due)
        self._check_known([i for reply in replies for i in reply])

    def _enqueue_times(self, delay: float, timeout: float | None) -> tuple[int, int]:
        """Now and the due time (0: pending now), in ms; refused on a closed queue."""
        delay = check_put(delay, timeout)
        if self._closed:
            raise QueueClosed(f"queue {self.name!r} is closed")
        now = self._now_ms()
        return now, (now + round(delay * 1000) if delay > 0 else 0)

    def _check_known(self, known: list[Any]) -> None:
        """Raise if an enqueue script refused known ids; else wake local waiters."""
        if known:
            ids = ", ".join(_text(i) for i in known)
            raise InvalidTask(f"task id(s) already in queue {self.name!r}: {ids}")
        if not self._wake.is_set():  # set() takes a lock; a producer-only process never clears it
            self._wake.set()

    def _enqueue_args(self, tasks: list[Task], now: int, due: int) -> list[Any]:
        args: list[Any] = []
        for task in tasks:
            body = encode(task, self.max_bytes, compact=True)
            args += [task.id, body, due, self._score(task, now, due)]
        return args

    def _stream_enqueue(
        self, first: list[Any], rest: Iterator[list[Task]], now: int, due: int
    ) -> list[Any]:
        """Send each chunk as soon as it is encoded and read the replies at the end, so Redis
        runs one chunk while the next is encoded here. EVAL, not EVALSHA: a server that lost
        its script cache (a restart) still works, and the source is small beside a chunk."""
        script, keys = self._scripts["enqueue"].script, self._keys["enqueue"]
        if isinstance(self.client, RedisCluster):  # no single connection to stream on
            raise TypeError(
                "chunks are streamed on one server only; put_many sends them one by one"
            )
        pool = self.client.connection_pool
        conn: Any = pool.get_connection()  # redis-py leaves Connection's methods untyped
        try:
            conn.send_command("EVAL", script, len(keys), *keys, *first)
            sent = 1
            for chunk in rest:
                args = self._enqueue_args(chunk, now, due)
                conn.send_command("EVAL", script, len(keys), *keys, now, *args)
                sent += 1
            return [conn.read_response() for _ in range(sent)]
        except BaseException:
            conn.disconnect()  # replies may be left unread: this connection must not be reused
            raise
        finally:
            pool.release(conn)

    # ----------------------------------------------------------------- consuming
    def get(self, timeout: float | None = None) -> Delivery | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        wakeups = self._wakeups
        while True:
            with self._lock:
                if self._buffer:
                    return self._buffer.popleft()
            if self._closed:
                raise QueueClosed(f"queue {self.name!r} is closed")
            self._wake.clear()
            deliveries, next_ms = self._take(self._batch())
            self.next_ms = next_ms  # for a MultiQueue planning its wait over several queues
            if deliveries:
                with self._lock:
                    self._buffer.extend(deliveries[1:])
                    self._buffered_at = time.monotonic()
                return deliveries[0]
            remaining = math.inf if deadline is None else deadline - time.monotonic()
            if remaining <= 0 or self._wakeups != wakeups:
                return None
            self._wait(min(remaining, self.reaper_period), next_ms)

    def _batch(self) -> int:
        """How many tasks the next take asks for."""
        if self.prefetch is not None:
            return self.prefetch
        with self._lock:
            return self.adaptive.next_size(time.monotonic())

    def _wait(self, longest: float, next_ms: int) -> None:
        """Wait for new work, a due task or an expiring lease, at most ``longest`` seconds."""
        until_next = math.inf if next_ms < 0 else max(0.0, (next_ms - self._now_ms()) / 1000)
        if until_next <= LOCAL_WAIT:
            self._wake.wait(min(longest, until_next))
            return
        # Redis returns from BLPOP up to ~100 ms late: ask it for a little less.
        self.client.blpop([self.keys.wakeup], timeout=max(0.01, min(longest, until_next - 0.15)))

    def _take(self, count: int) -> tuple[list[Delivery], int]:
        """One round trip: send waiting acks, then take up to ``count`` tasks."""
        with self._lock:
            acks, self._acks = self._acks, []
        now = self._now_ms()
        prefix = f"{self.consumer}:{os.urandom(6).hex()}"
        args: list[Any] = [now, round(self.lease * 1000), count, prefix, self.max_attempts]
        if not acks:  # no pipeline: one with a script first sends SCRIPT EXISTS, a round trip
            return self._deliveries(self._run("take", args))
        if self.cluster:  # redis-py's cluster pipeline refuses scripts: two calls
            try:
                stale = self._run("ack", [now, round(self.retention * 1000), *acks])
            except redis.RedisError:
                with self._lock:
                    self._acks[:0] = acks
                raise
            self._note_stale(stale)
            return self._deliveries(self._run("take", args))
        pipe = self.client.pipeline(transaction=False)
        self._run("ack", [now, round(self.retention * 1000), *acks], pipe)
        self._run("take", args, pipe)
        try:
            replies = pipe.execute()
        except redis.RedisError:
            with self._lock:  # keep the acks for the next try; their leases may still hold
                self._acks[:0] = acks
            raise
        self._note_stale(replies[0])
        return self._deliveries(replies[1])

    def _deliveries(self, reply: Any) -> tuple[list[Delivery], int]:
        """Decode a take script's reply; dead-letter bodies that cannot be decoded."""
        deliveries = []
        for i in range(1, len(reply), 4):
            task_id, token, attempts, body = (
                _text(reply[i]),
                _text(reply[i + 1]),
                reply[i + 2],
                reply[i + 3],
            )
            try:
                task = decode(body, attempts=int(attempts))
            except DecodeError as exc:
                self._bury_undecodable(task_id, token, exc)
                continue
            deliveries.append(Delivery(task, token))
        if deliveries:
            with self._lock:
                self._held.update((d.task.id, d.token) for d in deliveries)
            self._start_heartbeat()
        return deliveries, int(reply[0])

    def _bury_undecodable(self, task_id: str, token: str, exc: DecodeError) -> None:
        log.warning(
            "queue %s: task %s cannot be decoded (%s); dead-lettered",
            self.name,
            oneline(task_id),
            oneline(exc),
        )
        error = ErrorInfo("DecodeError", str(exc))
        self._run("fail", self._fail_args(task_id, token, error, None))

    def ack(self, delivery: Delivery, result: Any = None) -> None:
        """Acknowledge a delivery (sent in a batch). A result that breaks the rule of
        `taskq_lib.limits` raises `InvalidTask` and nothing is sent: fail the delivery then.
        """
        with self._lock:  # no longer renewed, whatever happens below: never stuck in flight
            self._held.pop(delivery.task.id, None)
        encoded = (
            ""
            if result is None
            else encode_value(result, max_bytes=self.max_result_bytes, field="result")
        )
        with self._lock:
            self._acks += [delivery.task.id, delivery.token, encoded]
            self.adaptive.finished()
            batch = self.ack_batch or self.adaptive.size
            full = len(self._acks) >= 3 * batch
        if full:
            self.flush()

    def flush(self) -> list[str]:
        """Send waiting acknowledgements now; return the ids whose lease had been lost."""
        with self._lock:
            acks, self._acks = self._acks, []
        if not acks:
            return []
        args: list[Any] = [self._now_ms(), round(self.retention * 1000), *acks]
        try:
            reply = self._run("ack", args)
        except redis.RedisError:
            with self._lock:
                self._acks[:0] = acks
            raise
        return self._note_stale(reply)

    def _note_stale(self, reply: Sequence[Any]) -> list[str]:
        stale = [_text(i) for i in reply]
        if stale:
            self.lost_leases += len(stale)
            log.warning(
                "queue %s: lease lost before ack for %s", self.name, oneline(", ".join(stale))
            )
        return stale

    def fail(self, delivery: Delivery, error: ErrorInfo, *, retry_in: float | None) -> None:
        task_id = delivery.task.id
        with self._lock:
            self._held.pop(task_id, None)
            self.adaptive.finished()
        ok = self._run("fail", self._fail_args(task_id, delivery.token, error, retry_in))
        if not ok:
            self.lost_leases += 1
            log.warning("queue %s: lease lost before fail for %s", self.name, oneline(task_id))

    def postpone(self, delivery: Delivery, delay: float) -> None:
        """Hand back an unrun delivery, to run after ``delay`` s; not counted as an attempt."""
        task_id = delivery.task.id
        with self._lock:
            self._held.pop(task_id, None)
        now = self._now_ms()
        if not self._run("postpone", [now, task_id, delivery.token, now + round(delay * 1000)]):
            self.lost_leases += 1
            log.warning("queue %s: lease lost before postpone for %s", self.name, oneline(task_id))

    def rate_limiter(self) -> Limiter:
        """A limiter in this queue's Redis: shared by every process that works on it."""
        limiter: Limiter | None = getattr(self, "_rate_limiter", None)
        if limiter is None:
            limiter = RedisLimiter(self.client, self.clock)
            self._rate_limiter = limiter
        return limiter

    def _fail_args(
        self, task_id: str, token: str, error: ErrorInfo, retry_in: float | None
    ) -> list[Any]:
        now = self._now_ms()
        retry_at = -1 if retry_in is None else now + round(retry_in * 1000)
        dead_age = round(self.dead_max_age * 1000)
        return [now, task_id, token, dumps(error.to_dict()), retry_at, self.dead_max, dead_age]

    def reap(self) -> None:
        """Promote due tasks and return expired leases now, without taking anything."""
        self._take(0)

    # ----------------------------------------------------------------- heartbeat
    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._heartbeat is not None or self._closed:
                return
            self._heartbeat = threading.Thread(
                target=self._beat, name=f"taskq-heartbeat-{self.name}", daemon=True
            )
        self._heartbeat.start()

    def _beat(self) -> None:
        failing = False
        every = self.lease / 3
        # With adaptive prefetch it also looks, a few times per give-back time, for
        # prefetched tasks waiting too long in this consumer's buffer.
        tick = every if self.prefetch is not None else min(every, self.adaptive.give_back / 2)
        renewed = time.monotonic()
        while not self._heartbeat_stop.wait(tick):
            try:
                if self.prefetch is None:
                    self._give_back_waiting()
                if time.monotonic() - renewed < every - tick / 2:
                    continue
                renewed = time.monotonic()
                self.extend_leases()
                self.flush()
                if failing:
                    log.info("queue %s: heartbeat reaches Redis again", self.name)
                failing = False
            except redis.RedisError as exc:
                if not failing:  # one line per outage, not one per beat
                    log.warning(
                        "queue %s: heartbeat failed (%s); will keep trying", self.name, oneline(exc)
                    )
                failing = True

    def _give_back_waiting(self) -> None:
        """Give back prefetched tasks that waited in the buffer longer than the adaptive
        give-back time (every thread of this consumer busy with slow tasks), so that an idle
        consumer can run them now. They go to the front of pending, attempt undone."""
        with self._lock:
            waited = time.monotonic() - self._buffered_at
            if not self._buffer or waited < self.adaptive.give_back:
                return
            waiting = list(self._buffer)
            self._buffer.clear()
            for delivery in waiting:
                self._held.pop(delivery.task.id, None)
            self.adaptive.gave_back()
        # If this fails, the leases expire and the tasks run anyway: at-least-once holds.
        self._run("release", [self._now_ms(), *(x for d in waiting for x in (d.task.id, d.token))])

    def extend_leases(self) -> list[str]:
        """Renew the lease of every delivery this consumer holds; return the ids lost."""
        with self._lock:
            held = [x for pair in self._held.items() for x in pair]
        if not held:
            return []
        lost = [
            _text(i) for i in self._run("extend", [self._now_ms(), round(self.lease * 1000), *held])
        ]
        if lost:
            with self._lock:
                for task_id in lost:
                    self._held.pop(task_id, None)
            log.warning("queue %s: leases lost for %s", self.name, oneline(", ".join(lost)))
        return lost

    # ----------------------------------------------------------------- inspecting
    def __len__(self) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys.pending)
        pipe.zcard(self.keys.scheduled)
        pending, scheduled = pipe.execute()
        return int(pending) + int(scheduled)

    def stats(self) -> dict[str, int]:
        """Counts per state now, and totals since the queue was created."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys.pending)
        pipe.zcard(self.keys.scheduled)
        pipe.zcard(self.keys.inflight)
        pipe.zcard(self.keys.dead)
        pipe.zcard(self.keys.done)
        pipe.hgetall(self.keys.counters)
        pending, scheduled, in_flight, dead, done, counters = pipe.execute()
        now = {
            "pending": pending,
            "scheduled": scheduled,
            "in_flight": in_flight,
            "dead": dead,
            "done": done,
        }
        totals = {
            f"total_{_text(k)}": _read_int(v, f"counter {_text(k)!r}")
            for k, v in counters.items()
            if _text(k) not in ("seq", "front")  # pending's line numbers, not totals
        }
        return {**now, **totals}

    def info(self, task_id: str) -> TaskInfo | None:
        """What became of a task: its state, attempts, last error and result; None if unknown."""
        keys = self.keys
        pipe = self.client.pipeline(transaction=False)
        for key in (
            keys.state,
            keys.attempts,
            keys.bodies,
            keys.errors,
            keys.results,
        ):
            pipe.hget(key, task_id)
        state_at, attempts, body, error, result = pipe.execute()
        if state_at is None:
            return None
        state, _, updated = _text(state_at).partition(":")  # "status:ms"; see lua/includes
        if state not in STATES:
            raise DecodeError(f"task {task_id!r} has the unknown state {state[:40]!r} in Redis")
        problems: list[str] = []

        def read(part: Callable[[], Any], default: Any = None) -> Any:
            try:
                return part()
            except DecodeError as exc:  # one unreadable part must not hide the rest
                problems.append(str(exc))
                return default

        count = read(lambda: _read_int(attempts, "attempts"), 0)
        return TaskInfo(
            id=task_id,
            state=state,
            attempts=count,
            task=None if body is None else read(lambda: decode(body, attempts=count)),
            last_error=read(lambda: _read_error(error)),
            result=read(lambda: _read_json(result, "result")),
            updated_at=int(updated) / 1000 if updated.isdigit() else None,
            problem="; ".join(problems) or None,
        )

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        entries: list[tuple[bytes, float]] = self.client.zrange(  # type: ignore[assignment]
            self.keys.dead, 0, limit - 1, withscores=True
        )
        pipe = self.client.pipeline(transaction=False)
        for member, _ in entries:
            pipe.hget(self.keys.bodies, member)
            pipe.hget(self.keys.errors, member)
            pipe.hget(self.keys.attempts, member)
        replies = pipe.execute()
        out = []
        for n, (member, score) in enumerate(entries):
            body, error, attempts = replies[3 * n : 3 * n + 3]
            task, raw = None, None
            try:  # each entry on its own: one unreadable entry must not hide the others
                count = _read_int(attempts, "attempts")
                err = _read_error(error) or ErrorInfo("Unknown", "")
            except DecodeError as exc:
                count, err = 0, ErrorInfo("Unreadable", f"stored data cannot be read: {exc}")
            try:
                task = None if body is None else decode(body, attempts=count)
            except DecodeError:
                raw = _text(body)[:1000]
            out.append(DeadLetter(_text(member), task, err, count, score / 1000, raw))
        return out

    def requeue_dead(self, task_id: str | None = None) -> int:
        """Send one dead task (or all, with None) back to pending with its attempts reset."""
        which = ["all"] if task_id is None else ["ids", task_id]
        moved = int(self._run("requeue", [self._now_ms(), *which]))
        if moved:
            self._wake.set()
        return moved

    def purge_dead(self) -> int:
        """Empty the dead-letter queue; return how many tasks were forgotten."""
        return int(self._run("purge", []))

    # ----------------------------------------------------------------- unique, cancel, wait
    def put_unique(
        self, task: Task, claim: Claim, *, delay: float = 0.0, timeout: float | None = None
    ) -> str:
        """Put ``task`` unless ``key`` is held (one script: the check and the put are one
        step). A client retry after a lost reply finds its own task holding the key."""
        now, due = self._enqueue_times(delay, timeout)
        until = now + round(claim.hold * 1000) if claim.hold > 0 else 0
        body = encode(task, self.max_bytes)
        reply = self._run("unique", [now, claim.key, claim.fingerprint, until, task.id, body, due])
        if not reply:
            self._check_known([])  # wakes local waiters
            return task.id
        holder, held_fingerprint = _text(reply[0]), _text(reply[1])
        if held_fingerprint != claim.fingerprint:
            raise UniqueKeyConflict(claim.key, holder)
        return holder

    def cancel(self, task_id: str) -> TaskInfo:
        """Take back a waiting task (one script: off pending or scheduled, status
        ``cancelled``); kept for the retention time like a success, then forgotten."""
        outcome, state = (
            _text(x)
            for x in self._run("cancel", [self._now_ms(), task_id, round(self.retention * 1000)])
        )
        if outcome == "unknown":
            raise KeyError(task_id)
        if outcome == "refused":
            raise CancelRefused(task_id, state)
        found = self.info(task_id)
        if found is None:  # forgotten at once: only with a retention of 0
            raise KeyError(task_id)
        return found

    def wait(self, task_id: str, timeout: float) -> TaskInfo | None:
        """Wait for the task's final state on the queue's ``finished`` channel (the ack, fail,
        take and cancel scripts announce each task that gets there), not by polling. Status is
        read once after subscribing (so nothing is missed between the two), then again on each
        announcement that names the task, and every `WAIT_RECHECK` seconds in case an
        announcement was lost with a connection."""
        deadline = time.monotonic() + check_wait(timeout)
        client: Any = self.client  # redis-py leaves pubsub untyped
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.keys.finished)
            # The confirmation: from here on, every announcement reaches us.
            pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
            while True:
                found = self.info(task_id)
                remaining = deadline - time.monotonic()
                if found is None or found.final or remaining <= 0:
                    return found
                self._await_announcement(pubsub, task_id, min(remaining, WAIT_RECHECK))
        finally:
            pubsub.close()

    def _await_announcement(self, pubsub: Any, task_id: str, timeout: float) -> None:
        """Read announcements until one names ``task_id`` or ``timeout`` seconds pass.
        (fakeredis also waits in ``get_message``, so this loop is the same on both.)"""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if message is None or message.get("type") != "message":
                continue
            try:
                ids = json.loads(message["data"])
            except ValueError:
                continue  # not ours: someone else published on the channel
            if isinstance(ids, list) and task_id in ids:
                return

    # ----------------------------------------------------------------- periodic
    def put_tick(self, schedule: str, tick: float, task: Task) -> int:
        """Claim tick ``tick`` (Unix seconds) of ``schedule`` and enqueue ``task`` for it, in one
        script. 1: enqueued; 0: the tick was claimed already; -1: first sight of the schedule
        (recorded, not run). See ``lua/periodic.lua``."""
        if self._closed:
            raise QueueClosed(f"queue {self.name!r} is closed")
        body = encode(task, self.max_bytes)
        tick_ms = round(tick * 1000)
        outcome = int(self._run("periodic", [self._now_ms(), schedule, tick_ms, task.id, body]))
        if outcome == 1:
            self._check_known([])
        return outcome

    def last_ticks(self) -> dict[str, float]:
        """Each schedule's last claimed tick, in Unix seconds."""
        raw = self.client.hgetall(self.keys.periodic)
        return {_text(k): _read_int(v, "last tick") / 1000 for k, v in raw.items()}

    # ----------------------------------------------------------------- closing
    def close(self) -> None:
        """Stop taking tasks: send waiting acks, give back prefetched tasks, stop the heartbeat.

        Tasks still being run by this consumer's workers keep their leases until they expire.
        """
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._heartbeat_stop.set()
        with self._lock:
            unstarted = list(self._buffer)
            self._buffer.clear()
            for delivery in unstarted:
                self._held.pop(delivery.task.id, None)
        self.flush()
        if unstarted:
            pairs = [x for d in unstarted for x in (d.task.id, d.token)]
            self._run("release", [self._now_ms(), *pairs])
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
        with self._put_lock:
            if self._put_conn is not None and self._put_pid == os.getpid():
                stock: Any = self.client  # only a plain redis.Redis keeps a put connection
                stock.connection_pool.release(self._put_conn)
            self._put_conn = None

    def wake(self) -> None:
        """Cut short this process's short local waits. (A wait inside Redis ends at its
        timeout, at most ``reaper_period``.)"""
        self._wakeups += 1
        self._wake.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def delete(self) -> None:
        """Remove every key of this queue from Redis (for tests and notebooks)."""
        self.client.delete(*self.keys.all)

    def _run(self, script: str, args: Sequence[Any], client: Any = None) -> Any:
        """Run one of the Lua scripts with its keys (on ``client``: a pipeline, if given)."""
        return self._scripts[script](self._keys[script], args, client)

    def _now_ms(self) -> int:
        return round(self.clock.now() * 1000)


def _read_int(raw: Any, what: str) -> int:
    """A count stored in Redis (absent: 0); `DecodeError` if it is not a whole number."""
    try:
        return int(raw or 0)
    except ValueError:
        raise DecodeError(f"{what} is not a whole number: {_text(raw)[:40]!r}") from None


def _read_json(raw: Any, what: str) -> Any:
    """A JSON value stored in Redis (absent: None), read by the rule it was written by."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        check_payload(value, field=what)
    except RecursionError:
        raise DecodeError(f"the stored {what} is nested too deeply to read") from None
    except (ValueError, InvalidTask) as exc:  # not JSON, bad UTF-8, or breaks the rule
        raise DecodeError(f"the stored {what} cannot be read: {exc}") from None
    return value


def _read_error(raw: Any) -> ErrorInfo | None:
    return None if raw is None else ErrorInfo.from_dict(_read_json(raw, "error"))


def _chunks(items: Iterable[Task], size: int) -> Iterator[list[Task]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _stock_client(client: Client) -> bool:
    """Is ``client`` a plain ``redis.Redis`` (not a cluster client) with nothing wrapped around
    its ``execute_command`` (a tracer's, a test's)? Only then may a put bypass it."""
    return (
        isinstance(client, redis.Redis)
        and "execute_command" not in vars(client)
        and type(client).execute_command is _STOCK_EXECUTE
    )


#: redis-py's own execute_command, as imported.
_STOCK_EXECUTE = redis.Redis.execute_command


def _bulk(value: bytes) -> bytes:
    """One argument in Redis's protocol (a bulk string)."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
