"""
Range-coded messages: fewer bytes than any fixed width
======================================================

Wire format v1 spends the same bits on every row. The codes a node sends are far from
uniform, though: most pixels of a handwritten digit are blank, and neighbouring pixels
agree. ``compress`` codes each row with the frequencies of every feature's codes in
the training rows (message format v2, :doc:`../user_guide/messages`): one ``bytes``
object per row, never longer than the v1 row, and the same predictions.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_bsq import SoftQuantizerClassifier

X, y = load_digits(return_X_y=True)  # 8 x 8 pixels, 64 features
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

clf = SoftQuantizerClassifier(n_bits=4, max_epochs=40, random_state=0)
clf.fit(X_train, y_train)
messages = clf.compress(X_test)  # one bytes object per row
lengths = np.array([len(m) for m in messages])

# The server predicts from the messages alone, exactly as from the readings.
assert (clf.predict_compressed(messages) == clf.predict(X_test)).all()
print(f"v1: {clf.bytes_per_row_} bytes per row; v2: {lengths.mean():.1f} on average")
print(f"estimated at fit: {clf.mean_message_bits_ / 8:.1f} bytes")
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# How long the messages are
# -------------------------
# Each row's length depends on how usual its codes are; the v1 row is the longest a
# message can be.
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(lengths, bins=np.arange(lengths.min(), clf.bytes_per_row_ + 2) - 0.5)
ax.axvline(clf.bytes_per_row_, color="k", linestyle="--", label="v1 row")
ax.axvline(lengths.mean(), color="C1", label="v2 mean")
ax.set_xlabel("bytes per message")
ax.set_ylabel("test rows")
ax.set_title("digits at 4 bits per pixel")
ax.legend()
fig.tight_layout()

# %%
# Bytes against the width
# -----------------------
# The wider the codes, the more a fixed width wastes on blank pixels.
models = {4: clf}
for n_bits in (1, 2, 6):
    models[n_bits] = SoftQuantizerClassifier(
        n_bits=n_bits, max_epochs=40, random_state=0
    ).fit(X_train, y_train)
widths = sorted(models)
v1 = [models[b].bytes_per_row_ for b in widths]
v2 = [np.mean([len(m) for m in models[b].compress(X_test)]) for b in widths]
for b, fixed, coded in zip(widths, v1, v2, strict=True):
    accuracy = models[b].score(X_test, y_test)
    print(f"width {b}: v1 {fixed} bytes, v2 {coded:.1f} bytes, accuracy {accuracy:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(widths, v1, "o--", label="v1 (fixed width)")
ax.plot(widths, v2, "o-", label="v2 (range-coded, mean)")
ax.axhline(4 * X.shape[1], color="gray", linestyle=":", label="float32")
ax.set_yscale("log")
ax.set_xlabel("bits per pixel")
ax.set_ylabel("bytes per row")
ax.set_xticks(widths)
ax.legend(loc="center left")
fig.tight_layout()
plt.show()
