"""How many torch threads a fit or a prediction uses: the ``n_threads`` parameter.

torch's intra-op threads are a process-wide setting. A fit steps through batches of
a few hundred rows; a second thread gains little on them, and when another process
keeps a core busy every product waits for the slower thread (measurements:
``benchmarks/run_threads.py``). So ``"auto"`` trains on one thread and leaves
prediction, whose batches are thousands of rows, to torch's setting. Either way the
caller's setting is restored afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import contextmanager
from numbers import Integral

import torch

# "auto": the threads for each kind of work (None: torch's current setting)
AUTO_THREADS = {"fit": 1, "predict": None}


def threads_for(n_threads, work: str) -> int | None:
    """The thread count for ``work`` ("fit" or "predict"); None leaves torch's."""
    if isinstance(n_threads, str) and n_threads == "auto":
        return AUTO_THREADS[work]
    if isinstance(n_threads, Integral) and not isinstance(n_threads, bool):
        if n_threads >= 1:
            return int(n_threads)
    raise ValueError(
        f"n_threads must be 'auto' or an int >= 1, got {n_threads!r}: use "
        "n_threads=1 on a shared machine, or the number of free cores."
    )


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
