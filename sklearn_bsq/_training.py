"""skorch plumbing: how a network is trained (the net, its callbacks, batches,
seeding and validation splits)."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit
from torch import nn


class SteepnessSchedule(Callback):
    """Grow the quantizer's sigmoid steepness geometrically, epoch by epoch.

    Epoch ``e`` of ``E`` uses ``start * (end / start) ** (e / (E - 1))``, so the
    first epoch trains with soft steps and the last with nearly hard ones.

    Parameters
    ----------
    start, end : float
        Steepness in the first and in the last epoch (levels per standard
        deviation; see :class:`BitwiseSoftQuantizer`).
    """

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end

    def on_epoch_begin(self, net, **kwargs) -> None:
        epoch = len(net.history) - 1  # the new epoch's row is already there
        last = max(net.max_epochs - 1, 1)
        ratio = self.end / self.start
        steepness = self.start * ratio ** (min(epoch, last) / last)
        net.module_.quantizer.steepness = steepness
        net.history.record("steepness", steepness)


class CosineLearningRate(Callback):
    """Decay the learning rate from ``lr`` towards 0 along a half cosine.

    Epoch ``e`` of ``E`` uses ``lr * (1 + cos(pi * e / E)) / 2``: the first epoch
    trains at the full rate, the last at a small fraction of it, so the weights
    settle while the quantizer's steps are nearly hard.
    """

    def on_epoch_begin(self, net, **kwargs) -> None:
        epoch = len(net.history) - 1
        factor = (
            1 + math.cos(math.pi * min(epoch, net.max_epochs) / net.max_epochs)
        ) / 2
        for group in net.optimizer_.param_groups:
            # every group decays from its own first rate (thresholds have theirs)
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
        net.history.record("lr", net.lr * factor)


class StopOnNonFiniteLoss(Callback):
    """Stop with a clear error after an epoch whose training loss is not finite.

    Checked per epoch, not per batch, to keep the training loop lean: the epoch
    loss is the mean of its batch losses, so one NaN batch makes it NaN.
    """

    def on_epoch_end(self, net, **kwargs) -> None:
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the training loss became {loss} in epoch {len(net.history)}. "
                "Try a smaller lr, check the target for extreme values, or scale "
                "the features."
            )


class ArrayBatches:
    """Training batches by one gather per batch instead of per-sample collation.

    A drop-in for skorch's ``iterator_train`` (a ``DataLoader``) over in-memory
    arrays: the same shuffled order from the same generator (one draw for the
    loader's base seed, then ``randperm``), so training is unchanged, at a
    fraction of the per-batch cost.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, generator=None, **_):
        X, y = _arrays(dataset)
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)
        self.batch_size = len(self.X) if batch_size in (None, -1) else batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        if self.shuffle:
            # Consume the generator as DataLoader + RandomSampler do (a base seed
            # for workers, the permutation, then a second permutation for an
            # empty remainder), so results equal those of the default loader.
            torch.empty((), dtype=torch.int64).random_(generator=self.generator)
            order = torch.randperm(n, generator=self.generator)
            torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            yield self.X[rows], self.y[rows]


def _arrays(dataset):
    """``(X, y)`` of a skorch ``Dataset`` or of a ``Subset`` of one."""
    rows = None
    if isinstance(dataset, torch.utils.data.Subset):
        dataset, rows = dataset.dataset, np.asarray(dataset.indices)
    X, y = np.asarray(dataset.X), np.asarray(dataset.y)
    return (X, y) if rows is None else (X[rows], y[rows])


def seed_torch(seed: int) -> None:
    """Seed torch's global generator; call it before building a module."""
    torch.manual_seed(seed)


def _split_size(y: np.ndarray, fraction: float, classification: bool, why: str):
    """Validation rows for ``fraction`` and whether they can be stratified."""
    n_valid = int(math.floor(fraction * len(y)))
    if n_valid < 1 or n_valid >= len(y):
        raise ValueError(
            f"validation_fraction={fraction} of {len(y)} samples leaves an empty "
            f"training or validation set; use more samples or {why}."
        )
    stratified = False
    if classification:
        counts = np.bincount(y)
        stratified = counts.min() >= 2 and n_valid >= counts.size
    return n_valid, stratified


def validation_split(
    y: np.ndarray, fraction: float, classification: bool, seed: int
) -> ValidSplit:
    """A seeded ``ValidSplit``, stratified when every class can be split."""
    _, stratified = _split_size(y, fraction, classification, "set early_stopping=False")
    return ValidSplit(fraction, stratified=stratified, random_state=seed)


def holdout_indices(
    y: np.ndarray, fraction: float, classification: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded training and validation row indices (stratified when possible)."""
    n_valid, stratified = _split_size(
        y, fraction, classification, "give n_bits explicitly"
    )
    return train_test_split(
        np.arange(len(y)),
        test_size=n_valid,
        stratify=y if stratified else None,
        random_state=seed,
    )


_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


def print_without_colours(text: str) -> None:
    """skorch's epoch table, less its colour codes (for files and logs)."""
    print(_ANSI_CODE.sub("", text))


# Rows per batch when a trained network only predicts (validation, serving).
PREDICT_BATCH_ROWS = 4096


@dataclass(frozen=True)
class TrainingSetup:
    """How to train a network: the estimator's training parameters, resolved.

    ``steepness`` is the (start, end) of the quantizer's schedule; it runs only
    for a quantizer that ``uses_steepness``. ``threshold_lr`` is the rate of the
    quantizer's ``threshold_parameters`` (None: the network's ``lr``).
    """

    n_classes: int | None  # None for regression
    max_epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    lr_schedule: str
    n_iter_no_change: int
    verbose: int
    steepness: tuple[float, float] | None = None
    threshold_lr: float | None = None
    device: str = "cpu"

    def train(self, build_module, seed: int, X, y, train_split=None, epochs=None):
        """Seed torch, build the module (``build_module()``, so its initial
        weights follow the seed) and train it on ``(X, y)`` for ``max_epochs``
        (or ``epochs``); returns the net with its module in eval mode. Ctrl-C
        ends training quietly (skorch): check :func:`interrupted`."""
        seed_torch(seed)
        net = self.net(build_module(), seed, train_split)
        if epochs is not None:
            net.max_epochs = epochs
        net.fit(X, y)
        net.module_.eval()
        return net

    def start(self, build_module, seed: int):
        """Seed torch, build the module and an initialized net for
        ``partial_fit`` (no validation split)."""
        seed_torch(seed)
        net = self.net(build_module(), seed)
        net.initialize()
        return net

    def serve(self, module: nn.Module):
        """A net that only predicts with the trained ``module`` (eval mode)."""
        net = self.net(module, seed=0)
        net.initialize()
        net.module_.eval()
        return net

    def net(self, module: nn.Module, seed: int, train_split=None):
        """The skorch net that trains (or, once initialized, serves) ``module``."""
        quantizer = getattr(module, "quantizer", None)
        callbacks: list[tuple[str, Callback]] = [("finite_loss", StopOnNonFiniteLoss())]
        if self.lr_schedule == "cosine":
            callbacks.append(("lr_schedule", CosineLearningRate()))
        if self.steepness is not None and quantizer is not None:
            if quantizer.uses_steepness:
                callbacks.append(("steepness", SteepnessSchedule(*self.steepness)))
        if train_split is not None:
            stopper = EarlyStopping(patience=self.n_iter_no_change, load_best=True)
            callbacks.append(("early_stopping", stopper))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        common = dict(
            module=module,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            iterator_train=ArrayBatches,
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(seed),
            # prediction and validation only: large batches, same results
            iterator_valid__batch_size=max(self.batch_size, PREDICT_BATCH_ROWS),
            train_split=train_split,
            callbacks=callbacks,
            verbose=self.verbose,
            device=self.device,
        )
        if self.verbose and not sys.stdout.isatty():
            # plain text for files and logs; skorch prints through any sink other
            # than print whatever verbose says, hence only when verbose
            common["callbacks__print_log__sink"] = print_without_colours
        if self.threshold_lr is not None and quantizer is not None:
            groups = [
                (f"quantizer.{name}", {"lr": self.threshold_lr})
                for name in quantizer.threshold_parameters
            ]
            if groups:
                common["optimizer__param_groups"] = groups
        if self.n_classes is not None:
            return NeuralNetClassifier(
                criterion=nn.CrossEntropyLoss,
                classes=list(range(self.n_classes)),
                **common,
            )
        return NeuralNetRegressor(criterion=nn.MSELoss, **common)


def interrupted(net) -> bool:
    """Whether training ended before its epochs ran out, other than by early
    stopping (skorch ends quietly on Ctrl-C)."""
    stopper = dict(net.callbacks_).get("early_stopping")
    stopped_early = stopper is not None and stopper.misses_ >= stopper.patience
    return len(net.history) < net.max_epochs and not stopped_early
