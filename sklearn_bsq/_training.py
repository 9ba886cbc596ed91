"""skorch plumbing: the training net, its callbacks and seeding."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping
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


def make_net(
    module: nn.Module,
    *,
    classification: bool,
    n_classes: int | None,
    max_epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    verbose: int,
    train_split: ValidSplit | None,
    n_iter_no_change: int,
    steepness: tuple[float, float] | None,
) -> NeuralNetClassifier | NeuralNetRegressor:
    """Build the skorch net that trains ``module`` (already seeded and built)."""
    callbacks: list[tuple[str, Callback]] = [("finite_loss", StopOnNonFiniteLoss())]
    if steepness is not None:
        callbacks.append(("steepness", SteepnessSchedule(*steepness)))
    if train_split is not None:
        stopper = EarlyStopping(patience=n_iter_no_change, load_best=True)
        callbacks.append(("early_stopping", stopper))
    common = dict(
        module=module,
        max_epochs=max_epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=weight_decay,
        iterator_train__shuffle=True,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        # prediction and validation only: large batches, same results, less overhead
        iterator_valid__batch_size=max(batch_size, 4096),
        train_split=train_split,
        callbacks=callbacks,
        verbose=verbose,
        device="cpu",
    )
    if classification:
        return NeuralNetClassifier(
            criterion=nn.CrossEntropyLoss, classes=list(range(n_classes)), **common
        )
    return NeuralNetRegressor(criterion=nn.MSELoss, **common)
