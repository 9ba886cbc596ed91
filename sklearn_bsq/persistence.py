"""Save and load fitted quantizers as data only: no pickle, no code on load.

File format ``sklearn_bsq`` version 1: one ``.npz`` archive (a zip of ``.npy``
arrays, each with a CRC-32) read with ``allow_pickle=False``. The array
``__metadata__`` holds UTF-8 JSON::

    {"format": "sklearn_bsq", "format_version": 1, "library_version": "...",
     "class": "SoftQuantizer", "params": {...}, "task": "classification",
     "n_features_in": 30, "feature_names_in": [...] or null,
     "classes": {"dtype": "<U9", "values": [...]} or null,
     "target_mean": ..., "target_scale": ..., "n_outputs": 2,
     "module_keys": ["quantizer.first", ...]}

and the other arrays are ``n_bits``, ``feature_mean``, ``feature_scale``,
``thresholds`` and ``bin_values`` (all features concatenated; lengths follow from
``n_bits``; a feature with 0 bits has no thresholds and one bin value) and
``module.<key>`` for every tensor of the network's state. A model fitted with
``n_bits="auto"`` also stores its ``allocation_trace_`` as
``allocation_trace.<column>`` arrays.

:func:`load` validates everything, rebuilds the network itself, checks that the
thresholds it implies equal the stored ones, and only then returns the estimator:
a file either loads whole or raises ``ValueError``. What is saved is what a server
needs (``decode``, ``predict_packed``, ``transform``, export): no optimizer state,
no training history. Calling ``fit`` on a loaded estimator trains from scratch.

Pickle (and joblib) also work, as for any scikit-learn estimator, but unpickling
runs code from the file: never unpickle a model you do not trust. Use
:func:`save` and :func:`load` to exchange models.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import _estimator
from ._files import write_atomically
from ._packing import check_bit_widths

FORMAT = "sklearn_bsq"
FORMAT_VERSION = 1
_CLASSES = {
    cls.__name__: cls
    for cls in (
        _estimator.SoftQuantizer,
        _estimator.SoftQuantizerClassifier,
        _estimator.SoftQuantizerRegressor,
    )
}
_LABEL_KINDS = "biufU"  # label dtypes that JSON round-trips exactly


def save(estimator, path) -> None:
    """Write a fitted SoftQuantizer to ``path`` (data only, atomically).

    Parameters
    ----------
    estimator : fitted SoftQuantizer, SoftQuantizerClassifier or SoftQuantizerRegressor
    path : str or path-like
        Destination; by convention ending in ``.bsq.npz``. It is written to a
        temporary file beside it and renamed into place, so an interrupted save
        never leaves a damaged file under this name.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_bsq import SoftQuantizer, load, save
    >>> X, y = load_iris(return_X_y=True)
    >>> sq = SoftQuantizer(2, max_epochs=3, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.bsq.npz")
    >>> save(sq, path)
    >>> bool((load(path).transform(X) == sq.transform(X)).all())
    True
    """
    name = type(estimator).__name__
    if name not in _CLASSES:
        raise TypeError(f"save() takes a SoftQuantizer estimator, got {name}.")
    check_is_fitted(estimator)
    arrays, metadata = _to_arrays(estimator)
    metadata_bytes = np.frombuffer(json.dumps(metadata).encode("utf-8"), np.uint8)
    write_atomically(path, lambda f: np.savez(f, __metadata__=metadata_bytes, **arrays))


def load(path):
    """Load an estimator written by :func:`save`; never unpickles.

    Raises
    ------
    ValueError
        The file is not a complete, consistent ``sklearn_bsq`` model file of a
        known format version (truncated, corrupted, edited, or another format).
    """
    with open(path, "rb") as file:  # our handle: closed even when numpy fails
        try:
            with np.load(file, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{path} is not a readable sklearn_bsq model file ({exc})."
            ) from exc
    try:
        return _from_arrays(arrays)
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path} is not a valid sklearn_bsq model file: {exc}"
        ) from exc


# --------------------------------------------------------------------- writing
def _to_arrays(est) -> tuple[dict, dict]:
    from . import __version__

    params = est.get_params()
    n_bits_type = type(params["n_bits"]).__name__  # list, tuple, ndarray, int, str
    params["n_bits"] = np.asarray(params["n_bits"]).tolist()
    params["hidden_layer_sizes"] = list(params["hidden_layer_sizes"])
    params["steepness"] = list(params["steepness"])
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object is not data
    classes = None
    if est.task_ == "classification":
        values = est.classes_
        if values.dtype == object and all(isinstance(v, str) for v in values):
            values = values.astype(str)
        if values.dtype.kind not in _LABEL_KINDS:
            raise TypeError(
                f"class labels of dtype {values.dtype} cannot be saved as data; use "
                "numbers or strings as labels."
            )
        classes = {"dtype": values.dtype.str, "values": values.tolist()}
    state = est.net_.module_.state_dict()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": type(est).__name__,
        "params": params,
        "task": est.task_,
        "n_features_in": int(est.n_features_in_),
        "feature_names_in": (
            est.feature_names_in_.tolist()
            if hasattr(est, "feature_names_in_")
            else None
        ),
        "classes": classes,
        "target_mean": getattr(est, "target_mean_", None),
        "target_scale": getattr(est, "target_scale_", None),
        "n_outputs": est._n_outputs(),
        "module_keys": list(state),
        "n_bits_type": n_bits_type,
    }
    arrays = {
        "n_bits": np.asarray(est.n_bits_, dtype=np.int64),
        "feature_mean": np.asarray(est.feature_mean_, dtype=np.float64),
        "feature_scale": np.asarray(est.feature_scale_, dtype=np.float64),
        "thresholds": np.concatenate(est.thresholds_).astype(np.float32),
        "bin_values": np.concatenate(est.bin_values_).astype(np.float64),
    }
    for key, tensor in state.items():
        arrays[f"module.{key}"] = tensor.detach().cpu().numpy()
    for column, values in getattr(est, "allocation_trace_", {}).items():
        arrays[f"{_TRACE}.{column}"] = np.asarray(values)
    return arrays, metadata


_TRACE = "allocation_trace"
_TRACE_KINDS = {
    "feature": "i",
    "n_bits": "i",
    "total_bits": "i",
    "validation_loss": "f",
}


def _read_trace(arrays: dict, learned: bool) -> dict | None:
    """The allocation trace: required for a model with learned widths only."""
    keys = {k for k in arrays if k.startswith(f"{_TRACE}.")}
    expected = {f"{_TRACE}.{column}" for column in _TRACE_KINDS}
    if not learned:
        if keys:
            raise ValueError("an allocation trace for a model with fixed n_bits.")
        return None
    if keys != expected:
        raise ValueError(
            f"a model with n_bits='auto' needs the arrays {sorted(expected)}, "
            f"found {sorted(keys)}."
        )
    length = arrays[f"{_TRACE}.feature"].shape
    if len(length) != 1 or length[0] < 1:
        raise ValueError("the allocation trace must be a non-empty 1-D table.")
    return {
        column: _array(arrays, f"{_TRACE}.{column}", length, kind)
        for column, kind in _TRACE_KINDS.items()
    }


# --------------------------------------------------------------------- reading
def _from_arrays(arrays: dict):
    metadata = _read_metadata(arrays)
    est = _CLASSES[metadata["class"]](**_params(metadata))
    d = metadata["n_features_in"]
    widths = check_bit_widths(_array(arrays, "n_bits", (d,), "i"), allow_zero=True)
    if not widths.any():
        raise ValueError("n_bits gives every feature 0 bits.")
    est.n_bits_ = widths
    est.n_features_in_ = d
    if metadata["feature_names_in"] is not None:
        names = np.asarray(metadata["feature_names_in"], dtype=object)
        if names.shape != (d,):
            raise ValueError("feature_names_in does not match n_features_in.")
        est.feature_names_in_ = names
    est.task_ = metadata["task"]
    if est.task_ == "classification":
        spec = metadata["classes"]
        est.classes_ = np.asarray(spec["values"], dtype=np.dtype(spec["dtype"]))
        if est.classes_.ndim != 1 or est.classes_.size < 2:
            raise ValueError("classes must be a list of at least 2 labels.")
    elif est.task_ == "regression":
        est.target_mean_ = float(metadata["target_mean"])
        est.target_scale_ = float(metadata["target_scale"])
    else:
        raise ValueError(f"unknown task {est.task_!r}.")
    if metadata["n_outputs"] != est._n_outputs():
        raise ValueError("n_outputs does not match the classes.")
    est.feature_mean_ = _array(arrays, "feature_mean", (d,), "f").astype(np.float64)
    est.feature_scale_ = _array(arrays, "feature_scale", (d,), "f").astype(np.float64)
    if not np.all(np.isfinite(est.feature_mean_)) or not np.all(est.feature_scale_ > 0):
        raise ValueError("feature_mean/feature_scale must be finite and positive.")
    counts = (1 << widths) - 1
    flat = _array(arrays, "thresholds", (int(counts.sum()),), "f").astype(np.float32)
    est.thresholds_ = np.split(flat, np.cumsum(counts)[:-1])
    values = _array(arrays, "bin_values", (int((counts + 1).sum()),), "f")
    est.bin_values_ = np.split(values.astype(np.float64), np.cumsum(counts + 1)[:-1])
    est._set_sizes()

    trace = _read_trace(arrays, est._learns_widths())
    if trace is not None:
        if trace["total_bits"][-1] != widths.sum():
            raise ValueError("the allocation trace does not end at n_bits.")
        est.allocation_trace_ = trace

    est.net_ = _rebuild_net(est, metadata, arrays)
    for stored, implied in zip(est.thresholds_, est._raw_thresholds(), strict=True):
        if not np.array_equal(stored, implied):
            raise ValueError("the stored thresholds do not match the network's.")
    return est


def _read_metadata(arrays: dict) -> dict:
    raw = arrays.get("__metadata__")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError("no __metadata__ entry: this is not a sklearn_bsq file.")
    metadata = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError("the metadata does not name the sklearn_bsq format.")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"file format version {version!r} is not supported by this release, "
            f"which reads version {FORMAT_VERSION}; use the sklearn_bsq release "
            f"that wrote it ({metadata.get('library_version', 'unknown')})."
        )
    if metadata.get("class") not in _CLASSES:
        raise ValueError(f"unknown estimator class {metadata.get('class')!r}.")
    return metadata


# Parameters added after format version 1 was fixed, with the value that gives the
# behaviour of the files written before them.
_PARAMS_BEFORE_THEY_EXISTED = {
    "dropout": 0.0,
    "lr_schedule": "constant",
    "threshold_lr": None,
}


def _params(metadata: dict) -> dict:
    params = {**_PARAMS_BEFORE_THEY_EXISTED, **metadata["params"]}
    params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    params["steepness"] = tuple(params["steepness"])
    if isinstance(params["n_bits"], list):
        # Give back the sequence type the user passed (files without the key
        # were written when tuples were the only form read back).
        kind = metadata.get("n_bits_type", "tuple")
        convert = {"list": list, "tuple": tuple, "ndarray": np.asarray}[kind]
        params["n_bits"] = convert(params["n_bits"])
    return params


def _array(arrays: dict, key: str, shape: tuple, kind: str) -> np.ndarray:
    value = arrays[key]
    if value.shape != shape or value.dtype.kind != kind:
        raise ValueError(
            f"array {key!r} has shape {value.shape} and dtype {value.dtype}, "
            f"expected shape {shape} and a dtype of kind {kind!r}."
        )
    return value


def _rebuild_net(est, metadata: dict, arrays: dict):
    """Build the module for these widths, load the stored tensors strictly."""
    hidden = est._check_hidden_layer_sizes()
    placeholder = [np.arange(2 ** int(b) - 1, dtype=np.float64) for b in est.n_bits_]
    module = est._build_module(placeholder, hidden)
    keys = metadata["module_keys"]
    state = {}
    for key in keys:
        value = arrays[f"module.{key}"]
        if value.dtype.kind not in "fb":
            raise ValueError(f"module tensor {key!r} has dtype {value.dtype}.")
        state[key] = torch.from_numpy(np.ascontiguousarray(value))
    extra = {k for k in arrays if k.startswith("module.")} - {
        f"module.{k}" for k in keys
    }
    if extra:
        raise ValueError(f"unexpected arrays {sorted(extra)}.")
    module.load_state_dict(state, strict=True)  # shape mismatches raise RuntimeError
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.all(torch.isfinite(tensor)):
            raise ValueError(f"module tensor {name!r} holds NaN or infinity.")
    net = est._new_net(module, seed=0)
    net.initialize()
    net.module_.eval()
    return net
