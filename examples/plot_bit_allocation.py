"""
Learned bit allocation: which features get the bits
===================================================

Ten diabetes features, twenty bits per row. ``n_bits="auto"`` starts from a wide
model and takes bits away one at a time where the held-out loss rises least; a
feature left at 0 bits is not sent, so the node need not measure it.
``allocation_trace_`` records every step.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes

from sklearn_bsq import SoftQuantizerRegressor, ThresholdDisplay

data = load_diabetes()
X, y = data.data, data.target
model = SoftQuantizerRegressor(n_bits="auto", bit_budget=20, random_state=0).fit(X, y)
print("widths:", dict(zip(data.feature_names, model.n_bits_.tolist(), strict=True)))
print(f"{model.n_bits_.sum()} bits = {model.bytes_per_row_} bytes per row")

trace = model.allocation_trace_
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.bar(data.feature_names, model.n_bits_)
left.set_ylabel("bits")
left.set_title("widths chosen for a 20-bit budget")
right.plot(np.asarray(trace["total_bits"]), np.asarray(trace["validation_loss"]), "o-")
right.invert_xaxis()
right.set_xlabel("bits per row left")
right.set_ylabel("held-out loss")
right.set_title("removing bits, one at a time")
fig.tight_layout()

# %%
# The thresholds of the features that kept the most bits:
widest = np.argsort(model.n_bits_)[::-1][:3]
ThresholdDisplay.from_estimator(model, X, features=widest.tolist())
