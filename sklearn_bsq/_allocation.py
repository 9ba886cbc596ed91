"""Per-feature bit widths under a total budget: greedy bit removal.

A wide model (every feature at ``start`` bits, one head) is trained once, for half the
epochs: it only has to rank the bits. Feature ``j`` at ``w < start`` bits merges its
wide codes into ``2**w`` groups of about equal training frequency (as the final fit's
quantile initialisation would cut it, but at the learned wide thresholds), so a feature
with few distinct values keeps all of them at a small width. The network input for a
group is the training-frequency-weighted mean of the inputs of the wide codes it merges
(for "levels", the mean level). Width 0 replaces the feature by one constant: it is not
sent. Starting from the wide allocation, each step removes the one bit whose loss raises
the validation loss least, until the widths sum to the budget; far from the budget one
round of scoring removes several features' cheapest bits (a quarter of those left to
remove). Differences the held-out rows cannot resolve go to the uniform width (see
``_guarded_ranking``). Every candidate costs one forward pass of the MLP over the
validation rows; no retraining happens until the final fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from ._network import QuantizedMLP
from ._threshold_init import model_initial_thresholds
from ._training import (
    TrainingSetup,
    holdout_indices,
    interrupted,
    row_losses,
    training_inputs,
)
from ._widths import MAX_BITS, n_codes

# Wide pass: this many bits above the average budget per feature (at most MAX_BITS).
HEADROOM_BITS = 2
# Wide pass: this share of the epochs. It only has to rank the bits; the final
# fit trains the chosen widths in full.
WIDE_EPOCH_SHARE = 0.5
# Wide pass: heads of its network, whatever the estimator's n_heads. Heads
# average out one network's variance in the final model; to rank bits one head
# does about as well for less time (benchmarks/results/history.md).
WIDE_HEADS = 1


def start_width(bit_budget: int, n_features: int) -> int:
    """Width of every feature in the wide first pass."""
    average = -(-bit_budget // n_features)  # ceil
    return int(min(MAX_BITS, average + HEADROOM_BITS))


class _FeatureTables:
    """Network inputs of every code of every feature, at every coarser width."""

    def __init__(
        self,
        module: QuantizedMLP,
        train_codes: NDArray,
        start: int,
        train_weight: NDArray | None = None,
    ):
        quantizer = module.quantizer
        d = len(quantizer.out_sizes)
        all_codes = torch.arange(n_codes(start))[:, None].expand(n_codes(start), d)
        with torch.no_grad():
            inputs = quantizer(codes=all_codes).numpy().astype(np.float64)
        ends = np.cumsum(quantizer.out_sizes)
        self.blocks = [
            slice(int(e - s), int(e))
            for s, e in zip(quantizer.out_sizes, ends, strict=True)
        ]
        self.tables = []  # tables[j][w]: (group of each wide code, group inputs)
        for j, block in enumerate(self.blocks):
            counts = np.bincount(
                train_codes[:, j], weights=train_weight, minlength=n_codes(start)
            )
            # A tiny weight keeps codes no training row took from dividing by 0.
            weights = counts + 1e-6
            fine = inputs[:, block]
            per_width = []
            for w in range(start + 1):
                groups = _equal_frequency_groups(counts, w, start)
                sums = np.zeros((n_codes(w), fine.shape[1]))
                np.add.at(sums, groups, fine * weights[:, None])
                totals = np.bincount(groups, weights=weights, minlength=n_codes(w))
                means = np.divide(
                    sums,
                    totals[:, None],
                    out=np.zeros_like(sums),
                    where=totals[:, None] > 0,
                )
                per_width.append((groups, torch.as_tensor(means, dtype=torch.float32)))
            self.tables.append(per_width)

    def inputs(self, j: int, width: int, codes: NDArray) -> torch.Tensor:
        """Feature ``j``'s network input at ``width`` bits for wide ``codes``."""
        groups, means = self.tables[j][width]
        return means[torch.as_tensor(groups[codes])]


def _equal_frequency_groups(counts: NDArray, width: int, start: int) -> NDArray:
    """Group (``0 .. 2**width - 1``) of every wide code, cut where the share of
    training rows below reaches ``k / 2**width``; the identity at ``start``."""
    if width == start:
        return np.arange(n_codes(start))
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])  # rows under each code
    targets = np.arange(1, n_codes(width)) * counts.sum() / n_codes(width)
    cuts = np.searchsorted(below, targets, side="left")  # first code past each cut
    return np.searchsorted(cuts, np.arange(n_codes(start)), side="right")


def _per_row_losses(
    out: torch.Tensor, y: torch.Tensor, classification: bool, weight=None
):
    """Training loss of each row, for outputs of shape (..., n, n_outputs), times
    the row's ``weight`` if given."""
    if classification:
        losses = row_losses(out.movedim(-1, 1), y.expand(out.shape[:-1]), True)
    else:
        losses = row_losses(out[..., 0], y, False)
    return losses if weight is None else losses * weight


def _loss(
    module: QuantizedMLP,
    inputs: torch.Tensor,
    y: torch.Tensor,
    classification: bool,
    weight=None,
) -> float:
    out = module.mlp(inputs)
    return float(_per_row_losses(out, y, classification, weight).mean())


# Candidates are scored in batches of at most this many input values.
_BATCH_VALUES = 1 << 24


def _candidate_losses(
    module: QuantizedMLP,
    inputs: torch.Tensor,
    blocks: list[slice],
    replacements: dict[int, torch.Tensor],
    features: NDArray,
    y: torch.Tensor,
    classification: bool,
    weight=None,
) -> NDArray[np.float64]:
    """Per-row validation losses, shape (len(features), n), with each feature in
    ``features`` one bit narrower: one MLP pass over a stack of modified copies
    of ``inputs`` per batch."""
    n, width = inputs.shape
    per_batch = max(1, _BATCH_VALUES // max(1, n * width))
    losses = []
    for start in range(0, len(features), per_batch):
        part = features[start : start + per_batch]
        stack = inputs.unsqueeze(0).repeat(len(part), 1, 1)
        for i, j in enumerate(part):
            stack[i, :, blocks[j]] = replacements[j]
        out = module.mlp(stack.reshape(-1, width)).reshape(len(part), n, -1)
        losses.append(_per_row_losses(out, y, classification, weight).double())
    return torch.cat(losses).numpy()


def _guarded_ranking(per_row: NDArray, widths: NDArray) -> NDArray:
    """Candidate order for removal, leaning to the uniform width.

    The reference is the cheapest candidate among the widest features (what a
    uniform allocation would shrink). Another candidate ranks by its own loss
    only if it beats the reference by more than one standard error of the
    paired per-row difference; otherwise it ranks no better than the reference.
    A held-out set of a few hundred rows cannot tell small differences apart,
    and the widths should not follow that noise.
    """
    means = per_row.mean(axis=1)
    widest = np.flatnonzero(widths == widths.max())
    reference = widest[np.argmin(means[widest])]
    diff = per_row - per_row[reference]
    n = per_row.shape[1]
    # One held-out row gives no noise estimate: then nothing counts as clear.
    error = diff.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.inf
    clear = diff.mean(axis=1) < -error
    score = np.where(clear, means, np.maximum(means, means[reference]))
    return np.lexsort((means, -widths, score))  # ties: wider, then cheaper


def greedy_bit_removal(
    module: QuantizedMLP,
    X_train: NDArray[np.float32],
    X_valid: NDArray[np.float32],
    y_valid: NDArray,
    bit_budget: int,
    classification: bool,
    log=None,
    train_weight: NDArray | None = None,
    valid_weight: NDArray | None = None,
) -> tuple[NDArray[np.int64], dict[str, NDArray]]:
    """Widths summing to at most ``bit_budget`` and the trace of the removals.

    Parameters
    ----------
    module : QuantizedMLP
        The trained wide model, every feature at the same width, in eval mode.
    X_train, X_valid : standardized rows the wide model was trained on / held out.
    y_valid : targets of ``X_valid`` as the network was trained on them.
    bit_budget : int
    classification : bool
    log : callable, optional
        Called with a line of text per step (progress output).
    train_weight, valid_weight : ndarray, optional
        Sample weights of the rows of ``X_train`` (in the code frequencies that
        merge codes) and of ``X_valid`` (in the validation losses).

    Returns
    -------
    widths : ndarray of int
    trace : dict of ndarray
        One entry per step, the first being the wide start: ``feature`` (-1 at
        the start), its ``n_bits`` after the step, the ``total_bits`` of the
        allocation, and the ``validation_loss`` with hard steps.
    """
    start = int(module.quantizer.n_bits[0])
    with torch.no_grad():
        x_train = torch.as_tensor(X_train)
        x_valid = torch.as_tensor(X_valid)
        train_codes = module.quantizer.hard_codes(x_train).numpy()
        codes = module.quantizer.hard_codes(x_valid).numpy()
        tables = _FeatureTables(module, train_codes, start, train_weight)
        y = torch.as_tensor(y_valid)
        weight = None
        if valid_weight is not None:
            # mean 1: losses stay on the scale of the unweighted ones
            weight = torch.as_tensor(valid_weight / valid_weight.mean()).float()
        d = codes.shape[1]
        widths = np.full(d, start, dtype=np.int64)
        inputs = torch.cat(
            [tables.inputs(j, start, codes[:, j]) for j in range(d)], dim=1
        )
        loss = _loss(module, inputs, y, classification, weight)
        trace = [(-1, start, int(widths.sum()), loss)]
        # Each feature's input one bit narrower; only the changed one is redone.
        narrower = {
            j: tables.inputs(j, start - 1, codes[:, j]) for j in range(d) if start
        }
        while widths.sum() > bit_budget:
            features = np.flatnonzero(widths)
            per_row = _candidate_losses(
                module,
                inputs,
                tables.blocks,
                narrower,
                features,
                y,
                classification,
                weight,
            )
            # Far from the budget, one scoring round removes the cheapest bits
            # of several features (a quarter of the bits still to remove, one
            # per feature); the last bits go one round each.
            n_remove = max(1, min(len(features), (widths.sum() - bit_budget) // 4))
            order = _guarded_ranking(per_row, widths[features])
            for j in features[order[:n_remove]]:
                inputs[:, tables.blocks[j]] = narrower[j]
                widths[j] -= 1
                if widths[j]:
                    narrower[j] = tables.inputs(j, int(widths[j]) - 1, codes[:, j])
                loss = _loss(module, inputs, y, classification, weight)
                trace.append((int(j), int(widths[j]), int(widths.sum()), loss))
                if log is not None:
                    log(
                        f"bit allocation: feature {j} -> {widths[j]} bits, "
                        f"{widths.sum()} bits in all, validation loss {loss:.4f}"
                    )
    columns = list(zip(*trace, strict=True))
    return widths, {
        "feature": np.array(columns[0], dtype=np.int64),
        "n_bits": np.array(columns[1], dtype=np.int64),
        "total_bits": np.array(columns[2], dtype=np.int64),
        "validation_loss": np.array(columns[3], dtype=np.float64),
    }


def allocate_bits(
    X_std: NDArray[np.float32],
    y: NDArray,
    bit_budget: int,
    *,
    build_module: Callable[[list[NDArray], int], QuantizedMLP],
    setup: TrainingSetup,
    seed: int,
    threshold_init: str,
    validation_fraction: float,
    early_stopping: bool,
    log=None,
    sample_weight: NDArray | None = None,
) -> tuple[NDArray[np.int64], dict[str, NDArray]]:
    """Widths under ``bit_budget`` from a wide first pass, and the trace.

    Holds out ``validation_fraction`` of the rows (seeded by ``seed``), trains
    ``build_module(initial thresholds, WIDE_HEADS)`` (a network of that many heads) with
    every feature at :func:`start_width` bits for ``WIDE_EPOCH_SHARE`` of the epochs
    (stopping early on the held-out rows when ``early_stopping``), then runs
    :func:`greedy_bit_removal`. ``sample_weight`` (one per row of ``X_std``) weighs the
    initial thresholds, the training loss and the validation losses.
    """
    d = X_std.shape[1]
    start = start_width(bit_budget, d)
    classification = setup.n_classes is not None
    train, valid = holdout_indices(
        y, validation_fraction, classification, seed, sample_weight
    )
    X_train, y_train = X_std[train], y[train]
    X_valid, y_valid = X_std[valid], y[valid]
    w_train = w_valid = None
    if sample_weight is not None:
        w_train, w_valid = sample_weight[train], sample_weight[valid]
    init = model_initial_thresholds(X_train, [start] * d, threshold_init, w_train)
    train_split = None
    if early_stopping:
        valid_set = Dataset(training_inputs(X_valid, w_valid), y_valid)
        train_split = predefined_split(valid_set)
    if log:
        log(f"bit allocation: wide pass, {d} features at {start} bits")
    net = setup.train(
        lambda: build_module(init, WIDE_HEADS),
        seed,
        X_train,
        y_train,
        train_split,
        epochs=max(1, round(WIDE_EPOCH_SHARE * setup.max_epochs)),
        sample_weight=w_train,
    )
    if interrupted(net):
        raise KeyboardInterrupt("fit was interrupted during the bit allocation.")
    # Scoring runs on the CPU, whatever device trained the wide model.
    return greedy_bit_removal(
        net.module_.cpu(),
        X_train,
        X_valid,
        y_valid,
        bit_budget,
        classification,
        log,
        train_weight=w_train,
        valid_weight=w_valid,
    )
