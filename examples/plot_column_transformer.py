"""
A Pipeline on a DataFrame: ColumnTransformer, then quantize
===========================================================

:class:`~sklearn_bsq.SoftQuantizerRegressor` is a scikit-learn estimator: put it at
the end of a :class:`~sklearn.pipeline.Pipeline` behind a
:class:`~sklearn.compose.ColumnTransformer` that scales the numeric columns and
one-hot encodes a text column. What the node sends is the quantizer's input, so the
bytes are those of the transformed columns.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_bsq import FullPrecisionMLPRegressor, SoftQuantizerRegressor

frame = load_diabetes(as_frame=True, scaled=False).frame
frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})  # a text column
numeric = [name for name in frame.columns if name not in ("sex", "target")]
X_train, X_test, y_train, y_test = train_test_split(
    frame.drop(columns="target"), frame["target"], random_state=0
)


def columns():
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("sex", OneHotEncoder(drop="if_binary", sparse_output=False), ["sex"]),
        ]
    )


model = make_pipeline(columns(), SoftQuantizerRegressor(n_bits=4, random_state=0))
model.fit(X_train, y_train)
reference = make_pipeline(columns(), FullPrecisionMLPRegressor(random_state=0))
reference.fit(X_train, y_train)

quantizer = model[-1]
print("widths:", quantizer.n_bits_, f"-> {quantizer.bytes_per_row_} bytes per row")
print(f"R² at 4 bits: {model.score(X_test, y_test):.3f}")
print(f"R² on float32: {reference.score(X_test, y_test):.3f}")

# %%
# On the node the pipeline's first step runs before the quantizer's ``transform``;
# the server predicts from those bytes.
packed = quantizer.transform(model[0].transform(X_test))
assert np.allclose(quantizer.predict_packed(packed), model.predict(X_test))

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(y_test, model.predict(X_test), s=12, label="4 bits per feature")
ax.scatter(y_test, reference.predict(X_test), s=12, marker="x", label="float32")
ax.plot([25, 350], [25, 350], color="0.5", lw=0.8)
ax.set_xlabel("true disease progression")
ax.set_ylabel("predicted")
ax.legend()
fig.tight_layout()
