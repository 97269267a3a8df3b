"""Adaptive prefetch: how many tasks one consumer takes per round trip.

A take that brings one task per round trip wastes the worker's time on the network when
handlers are fast; a take that brings hundreds makes tasks wait in one worker's hands while
another worker idles when handlers are slow. The right batch is "what this process finishes
in a short while": the rate at which it finishes tasks (acks and fails), times ``window``.

* Fast handlers (no-op tasks finish at tens of thousands a second): the batch grows, by
  doubling per take, up to ``most``.
* Slow handlers (1-second tasks on 8 threads finish 8 a second): 8 x 0.05 s < 1, so the batch
  is one task, and a task waits in no buffer: the next one stays in Redis, for whichever
  consumer is free first.

The rate is smoothed over about ``SMOOTHING`` seconds, so a short burst of quick tasks among
slow ones does not make the batch jump. When quick tasks turn slow right after a big take,
the tasks still waiting in the buffer after ``GIVE_BACK`` seconds go back to pending for
another consumer, and the batch starts again from one.

Prefetched tasks are leased like any other delivery and the heartbeat renews their leases
while they wait, so at-least-once delivery does not depend on the batch being finished in
time; the window keeps it well inside the lease anyway (at most ``lease / 100``).
"""

from __future__ import annotations

import math

#: Seconds of this process's work one take aims to bring.
WINDOW = 0.05
#: Largest batch: a bigger one holds Redis (one Lua script) longer and gains little.
MOST = 500
#: Time constant (seconds) of the smoothing of the finish rate.
SMOOTHING = 0.25
#: Shortest interval (seconds) the rate is measured over: a shorter one says little.
MIN_SAMPLE = 0.005
#: Seconds a prefetched task may wait in a consumer's buffer before it is given back to
#: pending for another consumer (its threads are all busy: quick tasks turned slow).
GIVE_BACK = 0.25


class AdaptivePrefetch:
    """Sizes takes from the rate at which tasks are finished. Not thread-safe: the queue
    calls it under its lock.

    Args:
        lease: the queue's lease in seconds; the window is at most a hundredth of it.
        window: seconds of work one take aims to bring.
        most: the largest batch.
    """

    def __init__(self, lease: float, *, window: float = WINDOW, most: int = MOST) -> None:
        if window <= 0 or most < 1:
            raise ValueError("window must be > 0 and most >= 1")
        self.window = min(window, lease / 100)
        self.most = most
        self.give_back = min(GIVE_BACK, lease / 20)
        self.size = 1  # the last batch asked for
        self.rate = 0.0  # tasks finished per second, smoothed
        self._finished = 0  # since the rate was last updated
        self._since: float | None = None

    def finished(self, count: int = 1) -> None:
        """Count tasks this consumer finished (acknowledged or failed)."""
        self._finished += count

    def gave_back(self) -> None:
        """The last batch waited too long: start again from one task per take."""
        self.size, self.rate = 1, 0.0

    def next_size(self, now: float) -> int:
        """How many tasks to take now (``now``: a monotonic time in seconds)."""
        if self._since is None:
            self._since = now
        elapsed = now - self._since
        if elapsed >= MIN_SAMPLE:
            sample = self._finished / elapsed
            self.rate += (1 - math.exp(-elapsed / SMOOTHING)) * (sample - self.rate)
            self._finished, self._since = 0, now
        wanted = max(1, min(self.most, int(self.rate * self.window)))
        # Grow by doubling at most (the rate was measured with smaller batches), shrink at once.
        self.size = min(wanted, 2 * self.size)
        return self.size
