"""skorch plumbing: how a network is trained (the net, its callbacks, batches,
seeding and validation splits)."""

from __future__ import annotations

import functools
import math
import operator
import re
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import ValidSplit
from skorch.utils import to_tensor
from torch import nn
from torch.nn import functional as F

# RandomStream lived here: pickled estimators (their ``_stream_``) written before
# it moved name this module, so it stays importable from here.
from ._generators import (
    RandomStream,  # noqa: F401
    caller_random_state_kept,
    seed_torch,
)
from ._network import PREDICT_BATCH_ROWS, has_head_axis
from ._validation import check_device


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
        self.X, self.y = _map(torch.as_tensor, X), torch.as_tensor(y)
        self.n_rows = len(self.y)
        self.batch_size = self.n_rows if batch_size in (None, -1) else batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return -(-self.n_rows // self.batch_size)

    def __iter__(self):
        n = self.n_rows
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
            yield _map(operator.itemgetter(rows), self.X), self.y[rows]


def _map(function, X):
    """``function`` of an array, or of every array of a dict of them (features
    with sample weights, see :func:`training_inputs`)."""
    if isinstance(X, dict):
        return {key: function(value) for key, value in X.items()}
    return function(X)


def _arrays(dataset):
    """``(X, y)`` of a skorch ``Dataset`` or of a ``Subset`` of one."""
    rows = None
    if isinstance(dataset, torch.utils.data.Subset):
        dataset, rows = dataset.dataset, np.asarray(dataset.indices)
    X, y = _map(np.asarray, dataset.X), np.asarray(dataset.y)
    if rows is None:
        return X, y
    return _map(operator.itemgetter(rows), X), y[rows]


def training_inputs(X: np.ndarray, sample_weight: np.ndarray | None):
    """What a net's ``fit`` takes: the features, or with sample weights a dict of
    the features and the weights (skorch batches and splits dicts row by row)."""
    if sample_weight is None:
        return X
    return {"X": X, "sample_weight": sample_weight.astype(np.float32)}


def row_losses(y_pred: torch.Tensor, y_true: torch.Tensor, classification: bool):
    """The training loss of each row: cross-entropy, or the squared error of a
    regression output of shape ``(n,)``."""
    if classification:
        return F.cross_entropy(y_pred, y_true, reduction="none")
    return (y_pred - y_true) ** 2


def head_row_losses(y_pred: torch.Tensor, y_true: torch.Tensor, classification: bool):
    """Each row's training loss averaged over the heads of an ensemble, for
    outputs with the heads on axis 1 (see ``_network.CombineHeads``)."""
    y_true = y_true.unsqueeze(1).expand(y_pred.shape[:2])
    if classification:
        return row_losses(y_pred.movedim(2, 1), y_true, True).mean(1)
    return row_losses(y_pred, y_true, False).mean(1)


class RowLoss:
    """A skorch net mixin for the inputs of :func:`training_inputs` and the
    outputs of networks with several heads.

    The module sees the features only. The loss of a batch is the mean over
    rows of each row's loss, times its sample weight when there are weights
    (of mean 1, which keeps the loss on its usual scale) and averaged over the
    heads when the outputs hold each head's (training mode). Otherwise the
    net's own criterion runs, so a plain network trains as with skorch alone.
    """

    def infer(self, x, **fit_params):
        if _weighted(x):
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        classification = isinstance(self, NeuralNetClassifier)
        heads = has_head_axis(y_pred, classification)
        if not heads and not _weighted(X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = to_tensor(y_true, device=y_pred.device)
        if heads:
            losses = head_row_losses(y_pred, y_true, classification)
        else:
            losses = row_losses(y_pred, y_true, classification)
        if _weighted(X):
            losses = to_tensor(X["sample_weight"], device=y_pred.device) * losses
        return losses.mean()


def _weighted(X) -> bool:
    """Whether ``X`` comes from :func:`training_inputs` with weights (other
    dicts are keyword arguments of the module, such as ``codes``)."""
    return isinstance(X, dict) and "sample_weight" in X


class WeightedNetClassifier(RowLoss, NeuralNetClassifier):
    """``NeuralNetClassifier`` with :class:`RowLoss` (sample weights, heads)."""


class WeightedNetRegressor(RowLoss, NeuralNetRegressor):
    """``NeuralNetRegressor`` with :class:`RowLoss` (sample weights, heads)."""


def draw_seed(random_state) -> int:
    """A torch seed from ``random_state`` (a new draw for a RandomState)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _split_size(y: np.ndarray, fraction: float, classification: bool, why: str):
    """Validation rows for ``fraction`` and whether they can be stratified."""
    n_valid = int(math.floor(fraction * len(y)))
    if n_valid < 1 or n_valid >= len(y):
        raise ValueError(
            f"validation_fraction={fraction} of {len(y)} samples leaves an empty "
            f"training or validation set; use more samples or {why}."
        )
    return n_valid, _stratifiable(y, n_valid, classification)


def _stratifiable(y: np.ndarray, n_valid: int, classification: bool) -> bool:
    """Whether ``n_valid`` rows can be held out class by class."""
    if not classification:
        return False
    counts = np.bincount(y)
    return bool(counts.min() >= 2 and n_valid >= counts.size)


def validation_split(
    y: np.ndarray,
    fraction: float,
    classification: bool,
    seed: int,
    sample_weight: np.ndarray | None = None,
):
    """A seeded ``train_split`` for skorch: a ``ValidSplit``, stratified when
    every class can be split; with ``sample_weight``, the rows of
    :func:`holdout_indices` (validation rows of positive weight only)."""
    why = "set early_stopping=False"
    if sample_weight is None:
        _, stratified = _split_size(y, fraction, classification, why)
        return ValidSplit(fraction, stratified=stratified, random_state=seed)
    train, valid = holdout_indices(
        y, fraction, classification, seed, sample_weight, why
    )
    return functools.partial(_fixed_split, train=train, valid=valid)


def _fixed_split(dataset, y=None, groups=None, *, train, valid):
    """skorch ``train_split`` on given row indices (module level: it pickles)."""
    Subset = torch.utils.data.Subset
    return Subset(dataset, train), Subset(dataset, valid)


def holdout_indices(
    y: np.ndarray,
    fraction: float,
    classification: bool,
    seed: int,
    sample_weight: np.ndarray | None = None,
    why: str = "give the widths (allocation='uniform')",
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded training and validation row indices (stratified when possible).
    With ``sample_weight`` the validation rows come from the rows of positive
    weight only (rows of weight 0 train, where they weigh nothing)."""
    n_valid, stratified = _split_size(y, fraction, classification, why)
    rows = np.arange(len(y))
    if sample_weight is not None:
        rows = np.flatnonzero(sample_weight > 0)
        if n_valid >= len(rows):
            raise ValueError(
                f"validation_fraction={fraction} holds out {n_valid} rows, but only "
                f"{len(rows)} rows have a positive sample_weight; give more rows "
                f"a positive weight or {why}."
            )
        stratified = _stratifiable(y[rows], n_valid, classification)
    train, valid = train_test_split(
        rows,
        test_size=n_valid,
        stratify=y[rows] if stratified else None,
        random_state=seed,
    )
    if sample_weight is not None:
        train = np.sort(np.concatenate([train, np.flatnonzero(sample_weight <= 0)]))
    return train, valid


_ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")


def print_without_colours(text: str) -> None:
    """skorch's epoch table, less its colour codes (for files and logs)."""
    print(_ANSI_CODE.sub("", text))


# max_epochs="auto": about AUTO_STEPS optimizer steps from AUTO_FULL_ROWS training
# rows up, fewer below (in proportion to the square of the rows: a few hundred rows
# overfit with more epochs), always within AUTO_EPOCHS. AUTO_STEPS are the steps of
# 40 epochs on 18,576 rows at batch 256 (CHANGELOG.md: how it was chosen).
AUTO_STEPS = 2900
AUTO_FULL_ROWS = 5000
AUTO_EPOCHS = (40, 200)


def resolve_epochs(max_epochs: int | str, n_rows: int | None, batch_size: int) -> int:
    """``max_epochs`` with "auto" resolved for ``n_rows`` training rows (None:
    not known or not wanted, as in ``partial_fit`` or with early stopping, gives
    the fewest epochs "auto" uses)."""
    if max_epochs != "auto":
        return int(max_epochs)
    fewest, most = AUTO_EPOCHS
    if n_rows is None:
        return fewest
    steps_per_epoch = max(1, math.ceil(n_rows / batch_size))
    # in integers: the steps wanted, AUTO_STEPS * min(1, n / full)**2, per epoch
    wanted = AUTO_STEPS * min(n_rows, AUTO_FULL_ROWS) ** 2
    epochs = -(-wanted // (AUTO_FULL_ROWS**2 * steps_per_epoch))  # ceiling
    return min(max(epochs, fewest), most)


# threshold_lr="auto", by the widest feature: THRESHOLD_LR_FAST at
# THRESHOLD_LR_FAST_BITS, THRESHOLD_LR otherwise (CHANGELOG.md: the measurements).
THRESHOLD_LR = 1e-2
THRESHOLD_LR_FAST = 2e-2
THRESHOLD_LR_FAST_BITS = (3, 4)


def resolve_threshold_lr(
    threshold_lr: float | str | None, widest_bits: int
) -> float | None:
    """``threshold_lr`` with "auto" resolved for a quantizer whose widest
    feature has ``widest_bits`` bits (None stays None: the network's ``lr``)."""
    if threshold_lr != "auto":
        return threshold_lr
    if widest_bits in THRESHOLD_LR_FAST_BITS:
        return THRESHOLD_LR_FAST
    return THRESHOLD_LR


@dataclass(frozen=True)
class TrainingSetup:
    """How to train a network: the estimator's training parameters, resolved.

    ``steepness`` is the (start, end) of the quantizer's schedule; it runs only
    for a quantizer that ``uses_steepness``. ``threshold_lr`` is the rate of the
    quantizer's ``threshold_parameters`` (None: the network's ``lr``; "auto":
    by the quantizer's widest feature, see ``resolve_threshold_lr``).
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
    threshold_lr: float | str | None = None
    device: str = "cpu"

    @classmethod
    def for_estimator(
        cls,
        estimator,
        n_classes: int | None,
        n_rows: int | None = None,
        steepness: tuple[float, float] | None = None,
        threshold_lr: float | str | None = None,
    ) -> TrainingSetup:
        """The training parameters of an estimator (its public parameters);
        checks ``device``. ``n_rows``, the rows given to ``fit``, resolves
        ``max_epochs="auto"``; None (``partial_fit``, loading) gives its fewest
        epochs, as does ``early_stopping``: the schedules run over
        ``max_epochs``, and with a longer schedule early stopping ended fits
        while the steps were still soft."""
        rows = None if estimator.early_stopping else n_rows
        return cls(
            n_classes=n_classes,
            max_epochs=resolve_epochs(estimator.max_epochs, rows, estimator.batch_size),
            batch_size=estimator.batch_size,
            lr=estimator.lr,
            weight_decay=estimator.weight_decay,
            lr_schedule=estimator.lr_schedule,
            n_iter_no_change=estimator.n_iter_no_change,
            verbose=estimator.verbose,
            steepness=steepness,
            threshold_lr=threshold_lr,
            device=check_device(estimator.device),
        )

    def fit(
        self,
        build_module,
        X,
        y,
        *,
        seed: int,
        validation_fraction: float | None = None,
        sample_weight=None,
    ):
        """Train a new network as ``fit`` does: stopping early on a seeded
        held-out ``validation_fraction`` when given; a warning when training
        was interrupted (the net of the last or best epoch is kept)."""
        train_split = None
        if validation_fraction is not None:
            classification = self.n_classes is not None
            train_split = validation_split(
                y, validation_fraction, classification, seed, sample_weight
            )
        net = self.train(build_module, seed, X, y, train_split, None, sample_weight)
        if interrupted(net):
            stopper = dict(net.callbacks_).get("early_stopping")
            which = "the best epoch so far" if stopper is not None else "that epoch"
            warnings.warn(
                f"training was interrupted in epoch {len(net.history)} of "
                f"{self.max_epochs}; the estimator is fitted with the network of "
                f"{which}.",
                UserWarning,
                stacklevel=5,
            )
        return net

    def train(
        self,
        build_module,
        seed: int,
        X,
        y,
        train_split=None,
        epochs=None,
        sample_weight=None,
    ):
        """Seed torch, build the module (``build_module()``, so its initial
        weights follow the seed) and train it on ``(X, y)`` for ``max_epochs``
        (or ``epochs``), each row's loss times its ``sample_weight`` if given;
        returns the net with its module in eval mode. Ctrl-C ends training
        quietly (skorch): check :func:`interrupted`."""
        with caller_random_state_kept(self.device):
            seed_torch(seed)
            net = self.net(build_module(), seed, train_split)
            if epochs is not None:
                net.max_epochs = epochs
            net.fit(training_inputs(X, sample_weight), y)
        net.module_.eval()
        return net

    def start(self, build_module, seed: int):
        """Seed torch, build the module and an initialized net for
        ``partial_fit`` (no validation split); run it under
        :func:`own_random_state`."""
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
        threshold_lr = None
        if quantizer is not None:
            widest = int(np.max(quantizer.n_bits))
            threshold_lr = resolve_threshold_lr(self.threshold_lr, widest)
        if threshold_lr is not None:
            groups = [
                (f"quantizer.{name}", {"lr": threshold_lr})
                for name in quantizer.threshold_parameters
            ]
            if groups:
                common["optimizer__param_groups"] = groups
        if self.n_classes is not None:
            return WeightedNetClassifier(
                criterion=nn.CrossEntropyLoss,
                classes=list(range(self.n_classes)),
                **common,
            )
        return WeightedNetRegressor(criterion=nn.MSELoss, **common)


def interrupted(net) -> bool:
    """Whether training ended before its epochs ran out, other than by early
    stopping (skorch ends quietly on Ctrl-C)."""
    stopper = dict(net.callbacks_).get("early_stopping")
    stopped_early = stopper is not None and stopper.misses_ >= stopper.patience
    return len(net.history) < net.max_epochs and not stopped_early
