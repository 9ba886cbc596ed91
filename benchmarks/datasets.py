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


def load(name: str, folder: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32, y, task)``; the last CSV column is the target."""
    frame = pd.read_csv(folder / f"{name}.csv.gz")
    X = frame.drop(columns="target").to_numpy(np.float32)
    y = frame["target"].to_numpy()
    task = TASKS[name]
    return X, (y.astype(np.float64) if task == "regression" else y), task
