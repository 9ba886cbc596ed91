"""torch's global random generators, which initial weights and dropout masks
draw from: training seeds them and draws one fit at a time, and gives the
caller's states back."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import torch

# The generators are one per process, so fits in threads of one process
# (joblib's threading backend, a Dask worker's threads) would draw each other's
# masks: training holds this lock, so that a fit's bytes are those its
# random_state gives alone (fits in threads train one at a time; predictions
# and load draw nothing and never wait). Reentrant, should training nest.
_DRAWING = threading.RLock()


def seed_torch(seed: int) -> None:
    """Seed torch's global generator; call it before building a module."""
    torch.manual_seed(seed)


def _cuda_index(device: str) -> int | None:
    """The CUDA device's index, or None for the CPU."""
    return (torch.device(device).index or 0) if device.startswith("cuda") else None


@contextmanager
def caller_random_state_kept(device: str = "cpu"):
    """Run training that draws from torch's global generators (initial weights,
    dropout masks) and give the caller's generator states back afterwards."""
    cuda = _cuda_index(device)
    with _DRAWING, torch.random.fork_rng(devices=[] if cuda is None else [cuda]):
        yield


class RandomStream:
    """torch's generator state carried from one ``partial_fit`` call to the
    next, so that a sequence of calls draws the same dropout masks whatever
    else uses torch in between."""

    def __init__(self) -> None:
        self.state: tuple | None = None

    @contextmanager
    def resumed(self, device: str = "cpu", seed: int | None = None):
        """Run training from the kept state (or, without one, from ``seed``
        if given) and keep the new state; the caller's state is given back."""
        cuda = _cuda_index(device)
        with caller_random_state_kept(device):
            if self.state is None and seed is not None:
                seed_torch(seed)
            if self.state is not None:
                torch.set_rng_state(self.state[0])
                if cuda is not None and self.state[1] is not None:
                    torch.cuda.set_rng_state(self.state[1], cuda)
            yield
            self.state = (
                torch.get_rng_state(),
                None if cuda is None else torch.cuda.get_rng_state(cuda),
            )
