"""The 14 benchmark datasets in ../shared/datasets (or another folder)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

TASKS = {
    "california": "regression",
    "cpu_act": "regression",
    "pol": "regression",
    "house_16H": "regression",
    "elevators": "regression",
    "Ailerons": "regression",
    "wine_quality": "regression",
    "MagicTelescope": "classification",
    "electricity": "classification",
    "bank-marketing": "classification",
    "covertype": "classification",
    "letter": "classification",
    "satimage": "classification",
    "shuttle": "classification",
}


def data_dir(override: str | None = None) -> Path:
    """``override``, else ``$BSQ_DATA_DIR``, else ``../shared/datasets``."""
    path = Path(override or os.environ.get("BSQ_DATA_DIR") or DEFAULT_DIR)
    if not path.is_dir():
        raise FileNotFoundError(
            f"dataset folder {path} not found; pass --data-dir or set BSQ_DATA_DIR."
        )
    return path


# Smooth synthetic regressions (scikit-learn's Friedman functions) at the size of
# the paper's kind of dataset, 40,768 rows: data the defaults were not chosen on.
SMOOTH_ROWS = 40_768
# Gaussian noise with this share of the noiseless target's standard deviation
# (a float32 MLP's standardized test MSE then sits near 0.04).
SMOOTH_NOISE = 0.2
SMOOTH = ("friedman1", "friedman2", "friedman3")


def _friedman_inner(x):
    return x[..., 1] * x[..., 2] - 1 / (x[..., 1] * x[..., 3])


# The noiseless Friedman functions as scikit-learn's make_friedman* define them,
# as sums of terms over disjoint features (friedman1's are independent parts,
# which lets ``floors.py`` place each part's thresholds on its own), with the box
# their independent uniform features are drawn from; friedman1's features after
# the fifth do not enter the target.
FRIEDMAN_TERMS = {
    "friedman1": (
        ((0, 1), lambda x: 10 * np.sin(np.pi * x[..., 0] * x[..., 1])),
        ((2,), lambda x: 20 * (x[..., 0] - 0.5) ** 2),
        ((3,), lambda x: 10 * x[..., 0]),
        ((4,), lambda x: 5 * x[..., 0]),
    ),
    "friedman2": (
        ((0, 1, 2, 3), lambda x: np.sqrt(x[..., 0] ** 2 + _friedman_inner(x) ** 2)),
    ),
    "friedman3": (((0, 1, 2, 3), lambda x: np.arctan(_friedman_inner(x) / x[..., 0])),),
}
FRIEDMAN_BOXES = {
    "friedman1": ([0.0] * 5, [1.0] * 5),
    "friedman2": ([0.0, 40 * np.pi, 0.0, 1.0], [100.0, 560 * np.pi, 1.0, 11.0]),
    "friedman3": ([0.0, 40 * np.pi, 0.0, 1.0], [100.0, 560 * np.pi, 1.0, 11.0]),
}


def friedman_function(name: str):
    """The noiseless target of ``name`` as one function of its used features."""
    terms = FRIEDMAN_TERMS[name]

    def function(x):
        return sum(term(x[..., list(features)]) for features, term in terms)

    return function


def smooth_regression(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32, y, "regression")`` of a Friedman function, fixed seed 0."""
    from sklearn import datasets as generators

    make = getattr(generators, f"make_{name}")
    rng = np.random.default_rng(0)
    options = {"n_features": 10} if name == "friedman1" else {}
    X, y = make(n_samples=SMOOTH_ROWS, noise=0.0, random_state=0, **options)
    y = y + rng.normal(scale=SMOOTH_NOISE * y.std(), size=y.shape)
    return X.astype(np.float32), y.astype(np.float64), "regression"


def load(name: str, folder: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32, y, task)``; the last CSV column is the target (the
    ``SMOOTH`` names are generated, not read)."""
    if name in SMOOTH:
        return smooth_regression(name)
    frame = pd.read_csv(folder / f"{name}.csv.gz")
    X = frame.drop(columns="target").to_numpy(np.float32)
    y = frame["target"].to_numpy()
    task = TASKS[name]
    return X, (y.astype(np.float64) if task == "regression" else y), task
