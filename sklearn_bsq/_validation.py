"""scikit-learn-side validation of the quantizer's parameters and readings:
every check that turns bad input into a ValueError or TypeError that names the
fix. (Codes and packed bytes are checked where they are defined, in
``_packing``.)"""

from __future__ import annotations

import re
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._widths import check_bit_widths


def final_step(estimator, X=None):
    """The estimator a Pipeline ends in, and ``X`` through the steps before it;
    anything else and ``X`` as given. The functions that take one fitted
    SoftQuantizer take a Pipeline ending in one through this."""
    if not hasattr(estimator, "steps"):
        return estimator, X
    return estimator[-1], None if X is None else estimator[:-1].transform(X)


def check_readings(estimator, X, y="no_validation", *, reset: bool):
    """``validate_data`` for readings, cast to float32 as a device compares them."""
    _check_numeric_columns(X)
    # Readings beyond float32 become inf in the cast and scikit-learn's quick
    # finiteness test sums the array (overflowing near the float32 limit); the
    # finiteness check that follows names real problems, so numpy's warnings
    # would only add noise.
    with np.errstate(over="ignore", invalid="ignore"):
        return validate_data(estimator, X, y, dtype=np.float32, reset=reset)


def check_sample_weight(sample_weight, X, *, rescale: bool) -> np.ndarray | None:
    """Per-row weights of the training loss as float64, or None where they
    change nothing (so the fit is the unweighted one, byte for byte).

    Negative, non-finite or all-zero weights raise ValueError. ``rescale``
    (``fit``): only their ratios matter, so they are rescaled to mean 1 and
    equal weights are None. Otherwise (``partial_fit``) they are used as given
    and all ones are None.
    """
    if sample_weight is None:
        return None
    weights = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not weights.any():  # scikit-learn refuses these from 1.7 on, 1.6 not
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if rescale:
        with np.errstate(over="ignore"):
            mean = weights.mean()
        if not np.isfinite(mean):  # weights near 1e308: by the largest first
            weights = weights / weights.max()
            mean = weights.mean()
        weights = weights / mean
        return None if np.all(weights == weights[0]) else weights
    return None if np.all(weights == 1) else weights


def _check_numeric_columns(X) -> None:
    """Name non-numeric DataFrame columns instead of failing on their first value."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return
    for column, dtype in zip(X.columns, dtypes, strict=True):
        if getattr(dtype, "kind", "O") not in "biuf":
            raise TypeError(
                f"column {column!r} has dtype {dtype}; SoftQuantizer needs numeric "
                "features. Encode it first, e.g. with OrdinalEncoder in a "
                "ColumnTransformer, or drop it."
            )


ALLOCATIONS = ("auto", "uniform", "learned")
# allocation="auto" learns the widths at up to this many bits per feature on
# average and gives every feature the same width above: learned widths gain at 2
# to 4 bits and not from 5 on, where the wide pass costs most (CHANGELOG.md).
LEARNED_UP_TO_BITS = 4
# ... and from this many training rows: on fewer, the held-out rows that rank the
# bits (validation_fraction of them) are too few to tell bits apart.
LEARNED_MIN_ROWS = 500


def _is_auto(n_bits) -> bool:
    return isinstance(n_bits, str) and n_bits == "auto"  # n_bits may be an array


def requires_learned_widths(n_bits, allocation: str) -> bool:
    """Whether the parameters ask for learned widths whatever the data:
    ``n_bits="auto"`` or ``allocation="learned"`` (``partial_fit`` cannot)."""
    return _is_auto(n_bits) or allocation == "learned"


def learns_widths(
    n_bits, allocation: str = "auto", quantizer="soft", n_rows: int | None = None
) -> bool:
    """Whether ``fit`` on ``n_rows`` rows learns the widths: where the parameters
    require it, or with ``allocation="auto"``, the soft quantizer, an int
    ``n_bits`` of at most ``LEARNED_UP_TO_BITS`` and at least
    ``LEARNED_MIN_ROWS`` rows (``n_rows=None``: whether some data would). The
    one place that says what "auto" means."""
    if requires_learned_widths(n_bits, allocation):
        return True
    return (
        allocation == "auto"
        and quantizer == "soft"
        and isinstance(n_bits, Integral)
        and not isinstance(n_bits, bool)
        and n_bits <= LEARNED_UP_TO_BITS
        and (n_rows is None or n_rows >= LEARNED_MIN_ROWS)
    )


def check_bit_budget(n_bits, bit_budget, allocation: str = "auto") -> None:
    """The combinations of ``n_bits``, ``bit_budget`` and ``allocation`` that
    mean something; ValueError naming the fix for the others."""
    auto = _is_auto(n_bits)
    if auto and bit_budget is None:
        raise ValueError(
            "n_bits='auto' learns the widths under a total budget: give "
            "bit_budget, the bits per sample (e.g. 2 * n_features), or give "
            "n_bits=2, allocation='learned' for 2 bits per feature on average."
        )
    if not auto and bit_budget is not None:
        raise ValueError(
            f"bit_budget={bit_budget} is used only with n_bits='auto'; "
            f"n_bits={n_bits!r} fixes the widths. Set n_bits='auto' or "
            "bit_budget=None."
        )
    if allocation == "learned" and not auto and not isinstance(n_bits, Integral):
        raise ValueError(
            "allocation='learned' spends an int n_bits (bits per feature on "
            f"average); n_bits={n_bits!r} fixes every feature's width. Give an "
            "int n_bits, or allocation='uniform'."
        )


def learned_bit_budget(
    n_bits,
    bit_budget,
    allocation: str,
    n_features: int,
    quantizer="soft",
    n_rows: int | None = None,
):
    """The bits per sample that fit on ``n_rows`` rows allocates, or None where
    the widths are given: ``bit_budget`` for ``n_bits="auto"``, ``n_bits *
    n_features`` where an int ``n_bits`` is learned (as many bytes per row as
    one width for all). For parameters that :func:`check_bit_budget` accepted."""
    if _is_auto(n_bits):
        return int(bit_budget)
    if learns_widths(n_bits, allocation, quantizer, n_rows):
        return int(n_bits) * n_features
    return None


def check_n_bits(n_bits, n_features: int) -> np.ndarray:
    """One width per feature from an int or a sequence; at least one is sent."""
    if isinstance(n_bits, Integral) and not isinstance(n_bits, bool):
        widths = np.full(n_features, int(n_bits))
    else:
        if isinstance(n_bits, str | bool):
            raise TypeError(
                f"n_bits must be an int or a sequence of ints, got {n_bits!r}."
            )
        widths = np.asarray(n_bits)
        if widths.ndim != 1 or widths.size != n_features:
            raise ValueError(
                f"n_bits has {widths.size} entries but X has {n_features} "
                "features; give one width per feature or a single int."
            )
    widths = check_bit_widths(widths, allow_zero=True)
    if not widths.any():
        raise ValueError(
            "n_bits gives every feature 0 bits; at least one feature must be "
            "transmitted (width >= 1)."
        )
    return widths


def check_hidden_layer_sizes(sizes) -> tuple[int, ...]:
    """The hidden layer sizes as a tuple of positive ints.

    One int is one hidden layer, as in scikit-learn's ``MLPClassifier``.
    """
    given = sizes
    if isinstance(sizes, np.ndarray):
        sizes = sizes.tolist()  # Python ints; a 0-d array becomes one int
    if isinstance(sizes, Integral):
        sizes = (sizes,)
    if not isinstance(sizes, (list, tuple)) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a positive int or a sequence of positive "
            f"ints, got {given!r}."
        )
    return tuple(int(s) for s in sizes)


def check_steepness(steepness) -> tuple[float, float]:
    """``(start, end)`` of the sigmoid steepness schedule as positive floats."""
    if len(steepness) != 2 or not all(
        isinstance(a, Real) and not isinstance(a, bool) and np.isfinite(a) and a > 0
        for a in steepness
    ):
        raise ValueError(
            "steepness must be a pair (start, end) of positive numbers, got "
            f"{steepness!r}."
        )
    return float(steepness[0]), float(steepness[1])


def check_device(device: str) -> str:
    """The torch device to train on: "cpu", "cuda", "cuda:N" or "auto" (CUDA when
    torch finds it, else the CPU)."""
    if not isinstance(device, str):  # a torch.device too: the estimators take str
        raise TypeError(
            f"device must be a string, 'cpu', 'cuda', 'cuda:N' or 'auto', got "
            f"{device!r}."
        )
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}."
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r}, but torch finds no CUDA device "
            "(torch.cuda.is_available() is False); use device='cpu' or 'auto'."
        )
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}, but torch finds {torch.cuda.device_count()} CUDA "
            "device(s)."
        )
    return device
