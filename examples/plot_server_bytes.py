"""
Predicting from bytes on a server
=================================

A server receives one message per row from many nodes. It needs the fitted model
(here loaded from a file written by :func:`~sklearn_bsq.save`, as a server would),
checks the sender's model id, stacks the messages of a batch into a ``uint8`` array
and calls ``predict_packed``. Batching is what makes it fast: one call per message
pays the call's overhead every time.
"""

import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer

from sklearn_bsq import SoftQuantizer, load, save

X, y = load_breast_cancer(return_X_y=True)
path = Path(tempfile.mkdtemp()) / "model.bsq.npz"
save(SoftQuantizer(n_bits=4, random_state=0).fit(X, y), path)

server = load(path)  # the server's copy: no training state, same bytes and predictions
print(f"loaded model {server.model_id_}: {server.bytes_per_row_} bytes per message")

# %%
# The nodes' messages (here made by ``transform``; on a device by the C encoder)
rng = np.random.default_rng(0)
rows = X[rng.integers(0, len(X), size=20_000)]
messages = [bytes(row) for row in server.transform(rows)]
sender_model_id = server.model_id_  # sent by the node once, when it starts


def serve(batch_of_messages, model_id):
    if model_id != server.model_id_:
        raise ValueError("a node runs another model: refit it or reload the server")
    packed = np.frombuffer(b"".join(batch_of_messages), np.uint8)
    return server.predict_proba_packed(packed.reshape(-1, server.bytes_per_row_))


# %%
# Rows per second against the batch size
# --------------------------------------
sizes = [1, 16, 256, 4096]
throughput = []
for size in sizes:
    count = min(len(messages), 200 * size)
    start = time.perf_counter()
    for begin in range(0, count, size):
        serve(messages[begin : begin + size], sender_model_id)
    throughput.append(count / (time.perf_counter() - start))
    print(f"batches of {size:5d}: {throughput[-1]:10,.0f} rows/s")

assert (serve(messages, sender_model_id).argmax(axis=1) == server.predict(rows)).all()

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.loglog(sizes, throughput, "o-")
ax.set_xlabel("messages per predict_proba_packed call")
ax.set_ylabel("rows per second")
ax.set_title("Serving: batch the messages (this build's machine)")
fig.tight_layout()
