"""In-memory worker pool: taskq's MemoryQueue + WorkerPool against the standard library.

All three run ``count`` no-op tasks on 4 threads, fed by the main thread while the threads run,
and are timed from the first put (or submit) until the last task has run:

* baseline: ``queue.Queue`` and 4 plain threads looping on ``get``;
* ``concurrent.futures.ThreadPoolExecutor(4)``, ``submit`` per task;
* taskq: ``MemoryQueue`` + ``WorkerPool(concurrency=4)``, with its events, retries and
  in-flight tracking. Tasks are built before the clock starts, as the baseline's items are.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from taskq_lib import EventLog, MemoryQueue, Registry, Task, WorkerPool

from .common import Result, median, paired, rate

THREADS = 4


def _finisher(count: int) -> tuple[threading.Event, Callable[[Any], None]]:
    """A no-op handler that sets the event when the ``count``-th call has run."""
    done = threading.Event()
    counter = itertools.count(1)

    def handler(item: Any) -> None:
        if next(counter) == count:  # next() on a count is atomic: no lock needed
            done.set()

    return done, handler


def stdlib_queue(count: int) -> float:
    """``queue.Queue`` + 4 plain threads; tasks/s."""
    done, handler = _finisher(count)
    items: queue.Queue[Any] = queue.Queue()
    payloads = [{"n": i} for i in range(count)]

    def work() -> None:
        while (item := items.get()) is not None:
            handler(item)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    for payload in payloads:
        items.put(payload)
    done.wait(timeout=120)
    seconds = time.perf_counter() - start
    for _ in threads:
        items.put(None)
    for thread in threads:
        thread.join(timeout=10)
    return rate(count, seconds)


def thread_pool_executor(count: int) -> float:
    """``ThreadPoolExecutor(4)``, one ``submit`` per task; tasks/s."""
    done, handler = _finisher(count)
    payloads = [{"n": i} for i in range(count)]
    with ThreadPoolExecutor(THREADS) as executor:
        start = time.perf_counter()
        for payload in payloads:
            executor.submit(handler, payload)
        done.wait(timeout=120)
        seconds = time.perf_counter() - start
    return rate(count, seconds)


def taskq_pool(count: int, threads: int = THREADS) -> float:
    """``MemoryQueue`` + ``WorkerPool``; tasks/s."""
    done, handler = _finisher(count)
    registry = Registry()
    registry.register("noop", handler)
    tasks = [Task("noop", {"n": i}) for i in range(count)]
    memory = MemoryQueue(maxsize=0)
    pool = WorkerPool(memory, registry, concurrency=threads, events=EventLog(maxlen=1000))
    pool.start()
    start = time.perf_counter()
    for task in tasks:
        memory.put(task)
    done.wait(timeout=120)
    seconds = time.perf_counter() - start
    pool.stop(drain=False)
    return rate(count, seconds)


def worker_pool(repeats: int, count: int) -> Result:
    """The in-memory row: taskq, the baseline and ThreadPoolExecutor, alternating."""
    ours, base, tpe, single = [], [], [], []
    for _ in range(repeats):
        base.append(stdlib_queue(count))
        tpe.append(thread_pool_executor(count))
        ours.append(taskq_pool(count))
        single.append(taskq_pool(count, threads=1))
    o, b, t = median(ours), median(base), median(tpe)
    ratio, ratios = paired(ours, base)
    ahead, _ = paired(ours, tpe)
    return Result(
        "memory_pool",
        f"in-memory pool, {THREADS} threads, no-op tasks",
        "tasks/s",
        o,
        b,
        f"queue.Queue + {THREADS} threads",
        target=">= 0.5x and > ThreadPoolExecutor",
        met=ratio >= 0.5 and ahead > 1,
        details={
            "tasks": count,
            "ratios": ratios,
            "runs": ours,
            "baseline_runs": base,
            "thread_pool_executor": t,
            "thread_pool_executor_runs": tpe,
            "taskq_1_thread": median(single),
            "taskq_1_thread_runs": single,
        },
        paired=ratio,
    )
