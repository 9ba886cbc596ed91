"""
Soft steps in training, hard steps at prediction
================================================

The method in one figure. A feature at 2 bits has three thresholds; its code is the
number of thresholds below the reading. In training every step is a sigmoid whose
steepness grows epoch by epoch (``steepness=(4.0, 256.0)``: levels per standard
deviation, the slope on the standardized feature is ``steepness * 2**n_bits``), so the
loss has a gradient for every threshold; at prediction the steps are hard, and the
network sees exactly what the server rebuilds from the bytes.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.datasets import load_breast_cancer

from sklearn_bsq import SoftQuantizer

X, y = load_breast_cancer(return_X_y=True)
feature = 0  # mean radius
# every feature at 2 bits (on 500 rows or more the default would learn the widths)
sq = SoftQuantizer(n_bits=2, allocation="uniform", random_state=0).fit(X, y)
thresholds = sq.thresholds_[feature]
scale = X[:, feature].std()

grid = np.linspace(X[:, feature].min(), X[:, feature].max(), 800)
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.hist(X[:, feature], bins=40, density=True, color="0.85", label="training readings")
ax2 = ax.twinx()
first, last = sq.steepness
epochs = (
    (first, ":", "first epoch"),
    (np.sqrt(first * last), "--", "halfway"),
    (last, "-", "last epoch"),
)
for steepness, style, when in epochs:
    slope = steepness * 2**2 / scale  # per raw unit
    soft = sum(expit(slope * (grid - t)) for t in thresholds)
    label = f"sigmoid steps, {when} (steepness {steepness:g})"
    ax2.plot(grid, soft, style, color="tab:blue", label=label)
rows = np.tile(np.median(X, axis=0), (grid.size, 1))
rows[:, feature] = grid
codes = sq.encode(rows)[:, feature]  # the node's hard steps
ax2.step(grid, codes, where="post", color="black", label="hard steps: the code")
for t in thresholds:
    ax.axvline(t, color="tab:red", lw=0.8)
ax.set_xlabel(f"feature {feature}: {load_breast_cancer().feature_names[feature]}")
ax.set_yticks([])
ax2.set_ylabel("code (sum of steps)")
ax2.legend(loc="upper left", fontsize=8)
ax.set_title("Three learned thresholds (red): training's soft steps and the hard code")
fig.tight_layout()
