"""How many torch threads a fit or a prediction uses: the ``n_threads`` parameter.

torch's intra-op threads are a process-wide setting. A fit steps through batches of
a few hundred rows; a second thread gains little on them, and when another process
keeps a core busy every product waits for the slower thread (measurements:
``benchmarks/run_threads.py``). So ``"auto"`` trains on one thread. Predictions run
batches of thousands of rows, which a second thread speeds up on free cores, so
``"auto"`` predicts on torch's setting less the cores that other processes keep
busy at that moment (Linux; elsewhere torch's setting). Either way the caller's
setting is restored afterwards.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from numbers import Integral

import torch

# "auto" predictions on fewer rows keep torch's setting without looking at the
# other processes: a count takes about 60 us, what a second thread saves on 256
# rows of the default model (scratch timings on the project's 2-core machine).
LOAD_CHECK_MIN_ROWS = 256
# One look at the other processes serves the calls of the next second: a
# machine's load changes more slowly than a server's calls come.
LOAD_CHECK_SECONDS = 1.0
# A look is the least of this many counts, 1 ms apart: a single count also
# catches short-lived threads (in a scratch test after every prediction of two
# threads on an idle machine, 11 of 300 single counts saw one; the least of
# three saw none in 300, and saw a spinning process in 100 of 100).
LOAD_COUNTS = 3
_last_look: list = [float("-inf"), None]  # when, and what it saw


def threads_for(n_threads, work: str, rows: int | None = None) -> int | None:
    """The thread count for ``work`` ("fit" or "predict") on ``rows`` rows;
    None leaves torch's setting."""
    if isinstance(n_threads, str) and n_threads == "auto":
        if work == "fit":
            return 1
        if rows is not None and rows < LOAD_CHECK_MIN_ROWS:
            return None
        return threads_left_free()
    if isinstance(n_threads, Integral) and not isinstance(n_threads, bool):
        if n_threads >= 1:
            return int(n_threads)
    raise ValueError(
        f"n_threads must be 'auto' or an int >= 1, got {n_threads!r}: use "
        "n_threads=1 on a shared machine, or the number of free cores."
    )


def running_threads(tasks: str) -> int:
    """How many of the threads listed in ``tasks`` (a ``/proc/PID/task``
    folder) are running or ready to run."""
    count = 0
    for task in os.listdir(tasks):
        with open(os.path.join(tasks, task, "stat")) as file:
            # the state follows the command name, which may hold spaces
            count += file.read().rpartition(")")[2].split()[0] == "R"
    return count


def runnable_elsewhere(
    loadavg: str = "/proc/loadavg", own_tasks: str = "/proc/self/task"
) -> int | None:
    """Threads of other processes running or ready to run right now: the
    kernel's count in ``/proc/loadavg`` less this process's own running
    threads, counted before and after it (torch's idle workers spin a little
    after a product, then sleep: the larger count covers one that fell asleep
    in between). None where it cannot be read."""
    try:
        own = running_threads(own_tasks)
        with open(loadavg) as file:
            running = int(file.read().split()[3].split("/")[0])
        own = max(own, running_threads(own_tasks))
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - own)


def busy_elsewhere() -> int | None:
    """Threads of other processes that keep running (see ``LOAD_COUNTS``),
    as the last look saw them if it is less than ``LOAD_CHECK_SECONDS`` old."""
    now = time.monotonic()
    when, others = _last_look
    if now - when < LOAD_CHECK_SECONDS:
        return others
    others = runnable_elsewhere()
    for _ in range(LOAD_COUNTS - 1):
        if not others:
            break
        time.sleep(0.001)
        again = runnable_elsewhere()
        others = None if again is None else min(others, again)
    _last_look[:] = [now, others]
    return others


def threads_left_free() -> int | None:
    """torch's thread count, capped at the cores that other processes keep
    free (at least one); None when none is busy or it cannot be told."""
    others = busy_elsewhere()
    if not others:
        return None
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - no /proc/loadavg there either
        cores = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cores - others))


@contextmanager
def torch_threads(count: int | None):
    """Run the block on ``count`` torch threads, then restore the caller's."""
    before = torch.get_num_threads()
    if count is None or count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def uses_threads(work: str) -> Callable:
    """Decorate an estimator method: it runs on the threads ``n_threads`` gives
    ``work``."""

    def decorate(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            with torch_threads(threads_for(self.n_threads, work)):
                return method(self, *args, **kwargs)

        return run

    return decorate
