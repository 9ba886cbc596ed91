"""
Quickstart: readings to bytes and back to predictions
=====================================================

Fit a 4-bit :class:`~sklearn_bsq.SoftQuantizer` on scikit-learn's breast cancer
data, send every test row as 15 bytes instead of 120, predict from the bytes, and look
at the thresholds it learned.
"""

# %%
# Fit and compress
# ----------------
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from sklearn_bsq import FullPrecisionMLPClassifier, SoftQuantizer, ThresholdDisplay

data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, random_state=0, stratify=data.target
)
sq = SoftQuantizer(n_bits=4, random_state=0).fit(X_train, y_train)

packed = sq.transform(X_test)  # what the node sends: one row per message
print(f"{X_test.shape[1]} float32 readings = {4 * X_test.shape[1]} bytes per row")
print(f"packed: {packed.shape[1]} bytes per row, {sq.compression_ratio_:.0f}x smaller")

# %%
# Predict on the server from the bytes alone
# ------------------------------------------
# The server needs no readings: ``predict_packed`` gives the same labels as
# ``predict`` on the readings, and the float32 network is the reference.
from_bytes = sq.predict_packed(packed)
assert (from_bytes == sq.predict(X_test)).all()
reference = FullPrecisionMLPClassifier(random_state=0).fit(X_train, y_train)
print(f"accuracy from 15 bytes: {(from_bytes == y_test).mean():.3f}")
print(f"float32 MLP on 120 bytes: {reference.score(X_test, y_test):.3f}")

# %%
# The learned thresholds
# ----------------------
# Each panel is one feature's training histogram with the 15 thresholds fit learned
# (solid) and where they started, the feature's quantiles (dashed): features 0, 20
# and 27 of the breast cancer data (mean radius, worst radius, worst concave points).
ThresholdDisplay.from_estimator(sq, X_train, features=[0, 20, 27])
