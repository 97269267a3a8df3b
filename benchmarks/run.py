"""Run the benchmarks, print the table, write JSON and a PNG to benchmarks/results/.

    python -m benchmarks.run                       # everything, a few minutes
    python -m benchmarks.run --quick               # small sizes: a smoke run
    python -m benchmarks.run --only redis,delayed  # some groups
    python -m benchmarks.run --redis-url redis://127.0.0.1:6379/0   # an existing server

Without ``--redis-url`` (or ``TASKQ_BENCH_REDIS_URL``) a ``redis-server`` is started on a free
loopback port for the run and stopped after it. Use an empty server or database: the
benchmarks only delete their own keys, but other traffic skews the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import bench_delayed, bench_memory, bench_peers, bench_redis, bench_scale, bench_worker
from .common import RESULTS, Result, environment, markdown, redis_for_run, table, write_json
from .plots import figure


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is. ``--quick`` divides the work by about five."""

    drain: int = 50_000
    drain_baseline: int = 10_000
    sweep: int = 5_000
    sweep_values: tuple[int, ...] = (1, 10, 50, 100, 250, 500)
    single: int = 5_000
    batch: int = 100_000
    memory_tasks: int = 100_000
    pool: int = 100_000
    delayed: int = 1_000
    delayed_spread: float = 2.0
    idle_seconds: float = 5.0
    kills: int = 3
    peer: int = 20_000


QUICK = Sizes(
    drain=10_000,
    drain_baseline=2_000,
    sweep=2_000,
    sweep_values=(1, 100),
    single=1_000,
    batch=20_000,
    memory_tasks=20_000,
    pool=20_000,
    delayed=200,
    delayed_spread=1.0,
    idle_seconds=2.0,
    kills=1,
    peer=5_000,
)

#: The groups, in the order they run.
GROUPS = ("redis", "enqueue", "peers", "memory", "delayed", "worker", "sweep", "scale")


def plan(
    url: str, size: Sizes, repeats: int, prefetch: int
) -> dict[str, Callable[[], list[Result]]]:
    """Each group: a function that measures it."""
    return {
        "redis": lambda: bench_redis.consume(
            url, repeats, size.drain, size.drain_baseline, prefetch, concurrency=8
        ),
        "enqueue": lambda: [
            bench_redis.enqueue_single(url, max(repeats, 5), size.single),
            bench_redis.enqueue_batch(url, repeats, size.batch),
            bench_redis.memory_per_task(url, size.memory_tasks),
        ],
        "peers": lambda: [
            *bench_peers.peers(url, repeats, size.peer),
            bench_peers.mix_spread(url),
        ],
        "memory": lambda: [bench_memory.worker_pool(repeats, size.pool)],
        "delayed": lambda: bench_delayed.lateness(url, size.delayed, size.delayed_spread),
        "worker": lambda: [
            bench_worker.idle_cpu(url, size.idle_seconds, concurrency=4),
            bench_worker.recovery(url, size.kills, lease=1.0, reaper=0.25),
        ],
        "sweep": lambda: [bench_redis.prefetch_sweep(url, size.sweep, list(size.sweep_values))],
        "scale": lambda: [
            bench_scale.priority_cost(url, max(repeats, 3), size.drain // 2, prefetch),
            bench_scale.cluster_throughput(url, repeats, 3, size.drain // 5, prefetch),
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default=os.environ.get("TASKQ_BENCH_REDIS_URL"))
    parser.add_argument("--only", default=",".join(GROUPS), help=f"groups: {', '.join(GROUPS)}")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the median counts")
    parser.add_argument(
        "--prefetch", type=int, default=0, help="prefetch = ack_batch for Redis (0: adaptive)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for JSON and PNG")
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    size = QUICK if args.quick else Sizes()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: list[Result] = []
    with redis_for_run(args.redis_url) as url:
        env = environment(url)
        print(
            f"bench: Redis {env['redis_server']} on loopback, {env['cpus']} CPUs, "
            f"Python {env['python']}, redis-py {env['redis_py']} ({env['redis_py_parser']} parser)"
        )
        steps = plan(url, size, args.repeats, args.prefetch)
        for group in GROUPS:
            if group in groups:
                print(f"bench: {group} ...", flush=True)
                group_started = time.monotonic()
                results += steps[group]()
                print(
                    f"bench: {group} done in {time.monotonic() - group_started:.0f} s", flush=True
                )
        env["seconds"] = round(time.monotonic() - started, 1)
    print()
    print(table(results))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"bench-{stamp}", "latest"):
        write_json(args.out / f"{name}.json", results, env)
        (args.out / f"{name}.md").write_text(markdown(results))
        figure(results, args.out / f"{name}.png")
    missed = [r.what for r in results if r.met is False]
    print()
    print(
        f"bench: {len(results)} figures in {env['seconds']:.0f} s; "
        f"results in {args.out}/latest.json and latest.png"
    )
    if missed:
        print("bench: targets missed: " + "; ".join(missed))
    for r in results:
        if r.met is False and r.details.get("why"):
            print(f"bench: why {r.what!r} is missed: {r.details['why']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
