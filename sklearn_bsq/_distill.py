"""A fitted model's network retrained smaller on its own predictions.

The default trains three heads, an ensemble, because several predict better than
one; on the server they cost three networks per row. :func:`distill` trains a
network of fewer heads (one by default) to reproduce the fitted network's outputs
from the same codes. The quantizer is copied, not retrained: the thresholds, the
codec and the model id stay the same, so nodes keep sending the same bytes and only
the server's model changes.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn

from ._estimator import estimator_from_state, fitted_state
from ._generators import caller_random_state_kept, seed_torch
from ._mlp_estimator import configured_task
from ._network import InMemoryTensors, has_head_axis
from ._quantizer_training import QuantizerTraining
from ._threads import threads_for, torch_threads
from ._training import draw_seed, resolve_epochs
from ._validation import final_step

# max_epochs="auto": this many times the epochs "auto" gives the fit itself; a
# student matches its teacher more closely with more passes (benchmarks/results/
# heads/summary.md has what fewer cost).
AUTO_EPOCH_FACTOR = 3


def distill(
    model,
    X,
    *,
    n_heads=1,
    max_epochs="auto",
    perturbation=0.3,
    random_state=None,
    verbose=0,
):
    """A copy of a fitted model whose network has ``n_heads`` heads, trained to
    predict what ``model`` predicts.

    The new network learns from ``model``'s outputs (its regression values, or
    its class probabilities) on the codes of ``X`` and on copies of those codes
    moved by one level on a random ``perturbation`` share of the features, so it
    also sees rows between the training rows. Nothing else changes: the
    quantizer, the thresholds, the codec and ``model_id_`` are ``model``'s, and
    ``transform`` gives the same bytes. Only the server's cost changes: one head
    does a third of the multiply-adds per row of the default's three. What a
    student serves and costs in accuracy: ``benchmarks/results/heads/summary.md``
    (students of five heads at 4 bits; above, they kept less of the teacher's
    accuracy in ``benchmarks/results/history.md``): score it on held-out rows
    before serving it.

    Parameters
    ----------
    model : fitted SoftQuantizer, SoftQuantizerClassifier or SoftQuantizerRegressor
        The teacher; it is not modified. A fitted Pipeline ending in one works
        too: its earlier steps transform ``X``, and the student is a Pipeline
        with copies of them.
    X : array-like of shape (n_samples, n_features)
        Readings to learn from, in raw units: the training rows are the usual
        choice. No target is needed.
    n_heads : int, default=1
        Heads of the new network, each with ``model``'s ``hidden_layer_sizes``.
    max_epochs : int or "auto", default="auto"
        Passes over ``X``; "auto" is three times what ``max_epochs="auto"``
        gives a fit on as many rows.
    perturbation : float in [0, 1), default=0.3
        Share of each row's features moved one level up or down (at random,
        within the feature's codes) in every batch; 0 trains on ``X``'s codes
        alone.
    random_state : int, RandomState instance or None, default=None
        Seeds the new network's weights, the batches and the moves: the same
        value gives the same network.
    verbose : int, default=0
        1 prints the loss every tenth of the epochs.

    Returns
    -------
    student : the type of ``model`` (or a Pipeline), fitted
        ``get_params()`` are ``model``'s with ``n_heads`` replaced; fitting a
        clone of it trains that many heads directly (not by distillation).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn_bsq import SoftQuantizerRegressor, distill
    >>> X, y = load_diabetes(return_X_y=True)
    >>> teacher = SoftQuantizerRegressor(4, max_epochs=20, random_state=0).fit(X, y)
    >>> student = distill(teacher, X, max_epochs=20, random_state=0)
    >>> student.n_heads, student.model_id_ == teacher.model_id_
    (1, True)
    >>> bool((student.transform(X) == teacher.transform(X)).all())
    True
    """
    if hasattr(model, "steps"):  # a Pipeline: its earlier steps transform X
        student = distill(
            *final_step(model, X),
            n_heads=n_heads,
            max_epochs=max_epochs,
            perturbation=perturbation,
            random_state=random_state,
            verbose=verbose,
        )
        pipeline = copy.copy(model)
        pipeline.steps = [
            *copy.deepcopy(model.steps[:-1]),
            (model.steps[-1][0], student),
        ]
        return pipeline
    state = fitted_state(model, "distill")
    _check_options(n_heads, max_epochs, perturbation, verbose)
    codes = np.asarray(model.encode(X), dtype=np.int64)
    if len(codes) == 0:
        raise ValueError("distill needs at least one row in X.")
    fitted = state.params  # what the model was fitted with (not a later set_params)
    params = {**fitted, "n_heads": int(n_heads)}
    student_model = type(model)(**params)
    training = QuantizerTraining(student_model, configured_task(student_model))
    teacher = model.net_.module_
    device = next(teacher.parameters()).device
    epochs = max_epochs
    if max_epochs == "auto":
        epochs = AUTO_EPOCH_FACTOR * resolve_epochs(
            "auto", len(codes), fitted["batch_size"]
        )
    seed = draw_seed(random_state)
    with torch_threads(threads_for(fitted["n_threads"], "fit")):
        with caller_random_state_kept(str(device)):
            seed_torch(seed)
            student = training.placeholder_module(
                state.codec.n_bits, state.target, state.codec.representation
            ).to(device)
            student.quantizer.load_state_dict(teacher.quantizer.state_dict())
            _train(
                student,
                teacher,
                torch.as_tensor(codes, device=device),
                torch.as_tensor(
                    (1 << np.asarray(state.codec.n_bits, np.int64)) - 1, device=device
                ),
                state.target.task == "classification",
                dict(
                    epochs=int(epochs),
                    batch_size=fitted["batch_size"],
                    lr=fitted["lr"],
                    weight_decay=fitted["weight_decay"],
                    perturbation=float(perturbation),
                    generator=torch.Generator().manual_seed(seed),
                    verbose=verbose,
                ),
            )
    student.eval()
    distilled = dataclasses.replace(
        state, params=params, module_state=InMemoryTensors(student.state_dict())
    )
    return estimator_from_state(type(model), distilled, device=fitted["device"])


def _check_options(n_heads, max_epochs, perturbation, verbose) -> None:
    if not isinstance(n_heads, Integral) or isinstance(n_heads, bool) or n_heads < 1:
        raise ValueError(f"n_heads must be an int >= 1, got {n_heads!r}.")
    if not (isinstance(max_epochs, str) and max_epochs == "auto"):
        if (
            not isinstance(max_epochs, Integral)
            or isinstance(max_epochs, bool)
            or max_epochs < 1
        ):
            raise ValueError(
                f"max_epochs must be 'auto' or an int >= 1, got {max_epochs!r}."
            )
    if not isinstance(perturbation, Real) or not 0 <= perturbation < 1:
        raise ValueError(
            f"perturbation must be a number in [0, 1), got {perturbation!r}: the "
            "share of features moved by one level in each training row."
        )
    if not isinstance(verbose, Integral):
        raise ValueError(f"verbose must be an int, got {verbose!r}.")


def _train(student, teacher, codes, top_codes, classification, options) -> None:
    """Train ``student``'s network (its quantizer stays as copied) on
    ``teacher``'s eval-mode outputs, with AdamW and a cosine decay of the rate."""
    for parameter in student.quantizer.parameters():
        parameter.requires_grad_(False)
    teacher.eval()
    student.train()
    for module in student.modules():  # the teacher's outputs carry no noise
        if isinstance(module, nn.Dropout):
            module.eval()
    trained = [p for p in student.mlp.parameters()]
    optimizer = torch.optim.AdamW(
        trained, lr=options["lr"], weight_decay=options["weight_decay"]
    )
    n, batch_size = len(codes), options["batch_size"]
    steps = options["epochs"] * math.ceil(n / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator, share = options["generator"], options["perturbation"]
    report_every = max(1, options["epochs"] // 10)
    for epoch in range(options["epochs"]):
        order = torch.randperm(n, generator=generator).to(codes.device)
        total = torch.zeros((), device=codes.device)  # read once, when printed
        for start in range(0, n, batch_size):
            batch = codes[order[start : start + batch_size]]
            if share > 0:
                batch = _moved(batch, top_codes, share, generator)
            with torch.no_grad():
                wanted = teacher(codes=batch)
                if classification:  # logits of one head, log-probabilities of more
                    wanted = torch.log_softmax(wanted, dim=-1)
            loss = _distance(student(codes=batch), wanted, classification)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.detach() * len(batch)
        if options["verbose"] and (epoch + 1) % report_every == 0:
            loss_mean = float(total) / n
            print(
                f"distill: epoch {epoch + 1}/{options['epochs']}, loss {loss_mean:.6f}"
            )


def _moved(codes, top_codes, share, generator):
    """``codes`` with a random ``share`` of the entries moved one level up or
    down; a move past a feature's first or last code goes the other way, so
    every chosen entry of a feature with two codes or more moves."""
    chosen = torch.rand(codes.shape, generator=generator) < share
    step = torch.randint(0, 2, codes.shape, generator=generator) * 2 - 1
    chosen, step = chosen.to(codes.device), step.to(codes.device)
    moved = codes + step
    moved = torch.where(moved < 0, codes + 1, moved)
    moved = torch.where(moved > top_codes, codes - 1, moved).clamp(min=0)
    return torch.where(chosen, moved, codes)


def _distance(outputs, wanted, classification):
    """Mean squared error to the teacher's regression values, or cross-entropy
    to its class probabilities (``wanted``: their logarithms); head by head when the
    student returns each head's outputs."""
    if has_head_axis(outputs, classification):
        wanted = wanted.unsqueeze(1)
    if not classification:
        return ((outputs - wanted) ** 2).mean()
    return -(wanted.exp() * torch.log_softmax(outputs, dim=-1)).sum(-1).mean()
