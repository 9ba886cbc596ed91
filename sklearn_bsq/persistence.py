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
``module.<key>`` for every tensor of the network's state. A model whose fit
learned the widths also stores its ``allocation_trace_`` as
``allocation_trace.<column>`` arrays. The code tables of message format v2 are
the arrays ``code_contexts`` (int, one per feature: the context feature or -1)
and ``code_frequencies`` (uint32, all tables concatenated row by row: ``2**b_k *
2**b`` per feature with context ``k``, ``2**b`` without, none for ``b = 0``)
and the metadata field ``estimated_message_bits``; files written before they
existed have none of them and load as models that write wire format v1 only,
with the model id they had.

:func:`load` validates everything, rebuilds the network itself, checks that the
thresholds it implies equal the stored ones, and only then returns the estimator:
a file either loads whole or raises ``ValueError``. It reads only regular files and
only the members above, and checks every member's npy header (shape and dtype)
against the metadata before reading its data, so a small file cannot make it
allocate more than the model it describes (``_archive.py``). What is saved is what
a server needs (``decode``, ``predict_packed``, ``transform``, export): no optimizer
state, no training history. Calling ``fit`` on a loaded estimator trains from scratch.

Pickle (and joblib) also work, as for any scikit-learn estimator, but unpickling
runs code from the file: never unpickle a model you do not trust. Use
:func:`save` and :func:`load` to exchange models.
"""

from __future__ import annotations

import json
import sys
import zipfile

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._archive import METADATA, Archive
from ._entropy import CodeTables
from ._estimator import (
    SoftQuantizer,
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
    estimator_from_state,
    fitted_state,
)
from ._files import checked_in_memory, is_file_object, write_atomically
from ._fitted_state import FittedState
from ._quantizers import REPRESENTATIONS, quantizer_representation
from ._target import FittedTarget
from ._validation import check_device
from ._version import __version__
from ._widths import MAX_BITS, n_thresholds
from .codec import Codec

__all__ = ["save", "load"]

FORMAT = "sklearn_bsq"
FORMAT_VERSION = 1
_CLASSES = {
    cls.__name__: cls
    for cls in (SoftQuantizer, SoftQuantizerClassifier, SoftQuantizerRegressor)
}
_LABEL_KINDS = "biufU"  # label dtypes that JSON round-trips exactly


def save(estimator, path) -> None:
    """Write a fitted SoftQuantizer to ``path`` (data only, atomically).

    Parameters
    ----------
    estimator : fitted SoftQuantizer, SoftQuantizerClassifier or SoftQuantizerRegressor
    path : str, path-like or binary file object
        Destination; by convention ending in ``.bsq.npz``. It is written to a
        temporary file beside it and renamed into place, so an interrupted save
        never leaves a damaged file under this name. A file object opened for
        writing bytes (``open(..., "wb")``, ``io.BytesIO``, a storage
        client's stream) is written into directly, from its position.

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
    if hasattr(estimator, "steps"):  # a Pipeline
        raise TypeError(_pipeline_refusal(estimator))
    if name not in _CLASSES:
        raise TypeError(f"save() takes a SoftQuantizer estimator, got {name}.")
    check_is_fitted(estimator)
    to_stream = is_file_object(path, "save()", "wb")
    arrays, metadata = _to_arrays(estimator)
    metadata_bytes = np.frombuffer(json.dumps(metadata).encode("utf-8"), np.uint8)

    def write(f):
        np.savez(f, __metadata__=metadata_bytes, **arrays)

    def loads_back(written):
        # What load would refuse is refused here, while the model is still in
        # memory: an estimator whose state disagrees with its parameters.
        try:
            _read(written, "cpu", "the file it would write")
        except ValueError as exc:
            raise ValueError(
                f"save() wrote nothing: {exc} The estimator's fitted state "
                "disagrees with its parameters; fit it again."
            ) from exc

    if to_stream:  # built whole first: zipfile seeks back, which streams may not
        checked_in_memory(write, loads_back)(path)
    else:
        write_atomically(path, write, check=loads_back)


def _pipeline_refusal(pipeline) -> str:
    """Which steps of a Pipeline save() cannot write, and what to do."""
    steps = [(n, s) for n, s in pipeline.steps if s not in (None, "passthrough")]
    quantizers = [n for n, s in steps if type(s).__name__ in _CLASSES]
    others = [f"{n!r} ({type(s).__name__})" for n, s in steps if n not in quantizers]
    fix = (
        f"save the SoftQuantizer step alone, save(pipeline[{quantizers[0]!r}], "
        "path), and rebuild the other steps where it is loaded"
        if quantizers
        else "the Pipeline has no SoftQuantizer step"
    )
    return (
        "save() writes one SoftQuantizer as data; it cannot write the Pipeline "
        f"steps {', '.join(others)}: {fix}. Pickle or joblib write a whole "
        "Pipeline but run code when loaded: never load one you do not trust."
    )


def load(path, device="cpu"):
    """Load an estimator written by :func:`save`; never unpickles.

    Parameters
    ----------
    path : str, path-like or binary file object
        A file written by :func:`save`; a file object (``open(..., "rb")``,
        ``io.BytesIO(blob)``) is read from its position to its end.
    device : str, default="cpu"
        Where the loaded network runs ("cpu", "cuda", "cuda:N", "auto"); it
        replaces the saved ``device`` parameter, so a model trained on a GPU
        loads on any machine.

    Returns
    -------
    estimator : SoftQuantizer, SoftQuantizerClassifier or SoftQuantizerRegressor
        Fitted, with the saved parameters; it encodes, packs and predicts
        exactly as the saved one did.

    Raises
    ------
    ValueError
        The file is not a complete, consistent ``sklearn_bsq`` model file of a
        known format version (truncated, corrupted, edited, or another format),
        or cannot be read as one (a link loop, a name too long).
    FileNotFoundError
        There is no file at ``path``.
    TypeError
        ``path`` is neither a path nor a binary file object (a text stream:
        open it with ``"rb"``).

    Examples
    --------
    A server loads the model and predicts from the bytes a node sent:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "diabetes.bsq.npz")
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn_bsq import SoftQuantizerRegressor, load, save
    >>> X, y = load_diabetes(return_X_y=True)
    >>> save(SoftQuantizerRegressor(3, max_epochs=2, random_state=0).fit(X, y), path)
    >>> server = load(path)
    >>> packets = server.transform(X)  # in practice, written by the nodes
    >>> server.predict_packed(packets).shape
    (442,)
    """
    check_device(device)  # before the file: a bad device is not a bad file
    name = (
        getattr(path, "name", "the file object")
        if is_file_object(path, "load()", "rb")
        else path
    )
    return _read(path, device, name)


def _read(source, device: str, name) -> object:
    """The estimator in ``source`` (a path or a binary file object); a
    ValueError that calls it ``name`` for anything but a valid model file."""
    try:
        with Archive(source, _allowed_member) as archive:
            return _from_archive(archive, device)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, OSError) as exc:
        # OSError: a damaged archive (zipfile seeks before its start), a link
        # loop, a name too long
        raise ValueError(
            f"{name} is not a readable sklearn_bsq model file ({exc})."
        ) from exc
    except (
        KeyError,
        TypeError,
        ValueError,
        OverflowError,
        RuntimeError,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as exc:
        raise ValueError(
            f"{name} is not a valid sklearn_bsq model file: {exc}"
        ) from exc


def _allowed_member(key: str) -> bool:
    return key in _ARRAYS or key.startswith(("module.", f"{_TRACE}."))


_ARRAYS = {
    METADATA,
    "n_bits",
    "feature_mean",
    "feature_scale",
    "thresholds",
    "bin_values",
    "code_frequencies",
    "code_contexts",
}


# --------------------------------------------------------------------- writing
def _to_arrays(est) -> tuple[dict, dict]:
    state = fitted_state(est, "save()")
    params = dict(state.params)  # the parameters the model was fitted with
    n_bits_type = type(params["n_bits"]).__name__  # list, tuple, ndarray, int, str
    params["n_bits"] = np.asarray(params["n_bits"]).tolist()
    hidden = params["hidden_layer_sizes"]  # one int stays one int
    params["hidden_layer_sizes"] = np.asarray(hidden).tolist()
    params["steepness"] = list(params["steepness"])
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState object is not data
    target, codec = state.target, state.codec
    classes = None
    if target.classification:
        values = target.classes
        if values.dtype == object and all(isinstance(v, str) for v in values):
            values = values.astype(str)
        if values.dtype.kind not in _LABEL_KINDS:
            raise TypeError(
                f"class labels of dtype {values.dtype} cannot be saved as data; use "
                "numbers or strings as labels."
            )
        classes = {"dtype": values.dtype.str, "values": values.tolist()}
    tensors = state.module_state
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": type(est).__name__,
        "params": params,
        "task": target.task,
        "n_features_in": state.n_features_in,
        "feature_names_in": (
            None if state.feature_names_in is None else state.feature_names_in.tolist()
        ),
        "classes": classes,
        "target_mean": target.mean,
        "target_scale": target.scale,
        "n_outputs": target.n_outputs,
        "module_keys": list(tensors.keys()),
        "n_bits_type": n_bits_type,
        "representation": codec.representation,
        "model_id": codec.model_id,
    }
    if codec.code_tables is not None:
        metadata["estimated_message_bits"] = codec.estimated_message_bits
    arrays = {
        "n_bits": codec.n_bits,
        "feature_mean": np.asarray(state.feature_mean, dtype=np.float64),
        "feature_scale": np.asarray(state.feature_scale, dtype=np.float64),
        "thresholds": np.concatenate(codec.thresholds).astype(np.float32),
        "bin_values": np.concatenate(codec.bin_values).astype(np.float64),
    }
    tables = codec.code_tables
    if tables is not None:
        arrays["code_contexts"] = np.asarray(tables.contexts, dtype=np.int64)
        arrays["code_frequencies"] = np.concatenate(
            [f.ravel() for f in tables.frequencies]
        ).astype(np.uint32)
    for key in tensors.keys():
        arrays[f"module.{key}"] = tensors.read(key)
    for column, values in (state.allocation_trace or {}).items():
        arrays[f"{_TRACE}.{column}"] = np.asarray(values)
    return arrays, metadata


_TRACE = "allocation_trace"
_TRACE_KINDS = {
    "feature": "i",
    "n_bits": "i",
    "total_bits": "i",
    "validation_loss": "f",
}


def _read_trace(arrays: Archive) -> dict | None:
    """The allocation trace (a model with learned widths), or None."""
    keys = {k for k in arrays.keys() if k.startswith(f"{_TRACE}.")}
    expected = {f"{_TRACE}.{column}" for column in _TRACE_KINDS}
    if not keys:
        return None
    if keys != expected:
        raise ValueError(
            f"an allocation trace needs the arrays {sorted(expected)}, "
            f"found {sorted(keys)}."
        )
    length = arrays.header(f"{_TRACE}.feature")[0]
    n_features = arrays.header("n_bits")[0][0]  # checked against the metadata
    # the start, then one step per removed bit (at most MAX_BITS per feature)
    if len(length) != 1 or not 1 <= length[0] <= 1 + MAX_BITS * n_features:
        raise ValueError("the allocation trace must be a non-empty 1-D table.")
    return {
        column: _array(arrays, f"{_TRACE}.{column}", length, kind)
        for column, kind in _TRACE_KINDS.items()
    }


# --------------------------------------------------------------------- reading
def _from_archive(arrays: Archive, device: str):
    metadata = _read_metadata(arrays)
    params = _params(metadata)
    cls = _CLASSES[metadata["class"]]
    cls(**params)  # a TypeError for unknown parameters, before any array is read
    d = _whole_number(metadata, "n_features_in")
    widths = _array(arrays, "n_bits", (d,), "i").astype(np.int64)
    if np.any((widths < 0) | (widths > MAX_BITS)):
        raise ValueError(f"each bit width must be in 0..{MAX_BITS}.")
    names = metadata["feature_names_in"]
    if names is not None:
        names = np.asarray(names, dtype=object)
        if names.shape != (d,):
            raise ValueError("feature_names_in does not match n_features_in.")
    task, classes, target_mean, target_scale = metadata["task"], None, None, None
    if task == "classification":
        classes = _classes(metadata["classes"])
        n_outputs = len(classes)
    elif task == "regression":
        target_mean = _finite(metadata, "target_mean")
        target_scale = _finite(metadata, "target_scale")
        if target_scale <= 0:
            raise ValueError("field 'target_scale' must be positive.")
        n_outputs = 1
    else:
        raise ValueError(f"unknown task {task!r}.")
    if metadata["n_outputs"] != n_outputs:
        raise ValueError("n_outputs does not match the classes.")
    feature_mean = _array(arrays, "feature_mean", (d,), "f").astype(np.float64)
    feature_scale = _array(arrays, "feature_scale", (d,), "f").astype(np.float64)
    if not np.all(np.isfinite(feature_mean)):
        raise ValueError("field 'feature_mean' must be finite.")
    # float32 readings: a scale outside float32's normal range cannot come from data
    # positive and finite: readings may be subnormal float32 (a scale below
    # float32's smallest normal number comes from real data)
    huge = np.finfo(np.float32).max
    if not np.all((feature_scale > 0) & (feature_scale <= huge)):
        raise ValueError("field 'feature_scale' must be positive and within float32.")
    counts = n_thresholds(widths)
    flat = _array(arrays, "thresholds", (int(counts.sum()),), "f").astype(np.float32)
    values = _array(arrays, "bin_values", (int((counts + 1).sum()),), "f")
    if not np.all(np.isfinite(values)):
        raise ValueError("field 'bin_values' must be finite.")
    representation = _representation(metadata, params, widths)
    trace = _read_trace(arrays)
    if trace is not None and trace["total_bits"][-1] != widths.sum():
        raise ValueError("the allocation trace does not end at n_bits.")
    thresholds = np.split(flat, np.cumsum(counts)[:-1])
    model = metadata.get("model_id")
    tables, estimate = _read_code_tables(arrays, metadata, widths)
    codec = Codec(
        widths,
        thresholds,
        np.split(values.astype(np.float64), np.cumsum(counts + 1)[:-1]),
        representation,
        tables,
        estimate,
    )
    if model is not None and model != codec.model_id:
        raise ValueError(
            f"the file names model {model!r}, but its thresholds "
            f"are those of model {codec.model_id!r}."
        )
    target = FittedTarget(task, classes, target_mean, target_scale)
    state = FittedState(
        params=params,
        n_features_in=d,
        feature_names_in=names,
        target=target,
        codec=codec,
        feature_mean=feature_mean,
        feature_scale=feature_scale,
        allocation_trace=trace,
        module_state=_ModuleTensors(arrays, metadata["module_keys"]),
    )
    return estimator_from_state(cls, state, device)


def _read_code_tables(arrays: Archive, metadata: dict, widths: np.ndarray):
    """The format v2 tables and rate estimate, or (None, None) for a file
    written before them; ``CodeTables.checked`` checks every row's sum."""
    present = {"code_frequencies", "code_contexts"} & set(arrays.keys())
    if not present:
        if "estimated_message_bits" in metadata:
            raise ValueError("the file has a message estimate but no code tables.")
        return None, None
    if len(present) == 1:
        raise ValueError(f"the file has {present.pop()} without the other code table.")
    d = widths.size
    contexts = _array(arrays, "code_contexts", (d,), "i").astype(np.int64)
    if np.any((contexts < -1) | (contexts >= np.arange(d))):
        raise ValueError("a feature's code context must be an earlier feature or -1.")
    rows = np.where(contexts >= 0, 1 << widths[np.maximum(contexts, 0)], 1)
    sizes = np.where(widths > 0, rows << widths, 0)
    flat = _array(arrays, "code_frequencies", (int(sizes.sum()),), "u")
    estimate = _finite(metadata, "estimated_message_bits")
    if estimate < 0:
        raise ValueError("field 'estimated_message_bits' must not be negative.")
    tables = np.split(flat.astype(np.int64), np.cumsum(sizes)[:-1])
    return CodeTables.checked(tables, contexts, widths), estimate


class _ModuleTensors:
    """The network's tensors in the archive (``module.<key>`` members), in the
    order ``module_keys`` lists them; a shape is read from the npy header."""

    def __init__(self, arrays: Archive, keys) -> None:
        stored = {k for k in arrays.keys() if k.startswith("module.")}
        if not isinstance(keys, list) or len(set(keys)) != len(keys):
            raise ValueError("module_keys must list distinct tensor names.")
        missing = [f"module.{k}" for k in keys if f"module.{k}" not in stored]
        if missing:
            raise ValueError(f"missing arrays {missing}.")
        extra = sorted(stored - {f"module.{k}" for k in keys})
        if extra:
            raise ValueError(f"unexpected arrays {extra}.")
        self.arrays, self.key_order = arrays, keys

    def keys(self) -> list[str]:
        return self.key_order

    def shape(self, key: str) -> tuple[int, ...]:
        shape, dtype = self.arrays.header(f"module.{key}")
        if dtype.kind not in "fb":
            raise ValueError(f"module tensor {key!r} has dtype {dtype}.")
        return tuple(shape)

    def read(self, key: str) -> np.ndarray:
        return self.arrays.read(f"module.{key}")


def _read_metadata(arrays: Archive) -> dict:
    shape, dtype = arrays.header(METADATA)
    if dtype != np.uint8 or len(shape) != 1:
        raise ValueError("the __metadata__ entry is not UTF-8 bytes.")
    metadata = json.loads(
        arrays.read(METADATA).tobytes().decode("utf-8"),
        object_pairs_hook=_refuse_duplicate_keys,
    )
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError("the metadata does not name the sklearn_bsq format.")
    version = metadata.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # True == 1 too
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
    "allocation": "uniform",
    "device": "cpu",
    "dropout": 0.0,
    "lr_schedule": "constant",
    "n_heads": 1,
    "n_threads": "auto",
    "threshold_lr": None,
}


def _params(metadata: dict) -> dict:
    params = {**_PARAMS_BEFORE_THEY_EXISTED, **metadata["params"]}
    if isinstance(params["hidden_layer_sizes"], list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    params["steepness"] = tuple(params["steepness"])
    if isinstance(params["n_bits"], list):
        # Give back the sequence type the user passed (files without the key
        # were written when tuples were the only form read back).
        kind = metadata.get("n_bits_type", "tuple")
        convert = {"list": list, "tuple": tuple, "ndarray": np.asarray}[kind]
        params["n_bits"] = convert(params["n_bits"])
    return params


def _representation(metadata: dict, params: dict, widths: np.ndarray) -> str | None:
    """The representation the stored network was built with."""
    if "representation" not in metadata:
        # written when "auto" meant the thermometer up to 4 bits
        return quantizer_representation(
            params["quantizer"], params["representation"], widths, "thermometer"
        )
    value = metadata["representation"]
    concrete = [r for r in REPRESENTATIONS if r != "auto"]
    if value is not None and value not in concrete:
        raise ValueError(f"field 'representation' must be one of {concrete} or null.")
    return value


def _whole_number(metadata: dict, field: str) -> int:
    value = metadata[field]
    if type(value) is not int or value < 1:
        raise ValueError(
            f"field {field!r} must be a positive whole number, got {value!r}."
        )
    return value


def _finite(metadata: dict, field: str) -> float:
    value = metadata[field]
    # float() of a JSON integer beyond float64 raises OverflowError: not finite
    if type(value) not in (int, float) or not abs(value) <= sys.float_info.max:
        raise ValueError(f"field {field!r} must be a finite number, got {value!r}.")
    return float(value)


def _refuse_duplicate_keys(pairs: list) -> dict:
    """A JSON object as a dict; a key given twice would be read as either."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"the metadata gives the keys {twice} twice.")
    return dict(pairs)


# String labels: the dtype may be wider than the longest label (as the labels
# given to fit were), but not by more than this many characters.
_SPARE_LABEL_CHARS = 64


def _classes(spec: dict) -> np.ndarray:
    """Class labels: numbers or strings, sorted and distinct, as ``fit`` keeps them."""
    dtype = np.dtype(spec["dtype"])
    if dtype.kind not in _LABEL_KINDS:
        raise ValueError(
            f"field 'classes' has dtype {dtype}: labels are numbers or strings."
        )
    values = spec["values"]
    if not isinstance(values, list):
        raise ValueError("field 'classes' must list the labels.")
    if dtype.kind == "U":
        longest = max((len(v) for v in values if isinstance(v, str)), default=0)
        if dtype.itemsize // 4 > longest + _SPARE_LABEL_CHARS:
            raise ValueError(
                f"field 'classes' has dtype {dtype} for labels of at most {longest} "
                "characters."
            )
    classes = np.asarray(values, dtype=dtype)
    if classes.ndim != 1 or classes.size < 2:
        raise ValueError("field 'classes' must list at least 2 labels.")
    if dtype.kind == "f" and not np.all(np.isfinite(classes)):
        raise ValueError("field 'classes' holds NaN or infinity.")
    if not np.all(classes[1:] > classes[:-1]):
        raise ValueError("field 'classes' must be sorted and without repeats.")
    return classes


def _array(arrays: Archive, key: str, shape: tuple, kind: str) -> np.ndarray:
    """Member ``key``, read only once its header shows the expected shape and kind."""
    found, dtype = arrays.header(key)
    if found != shape or dtype.kind != kind:
        raise ValueError(
            f"array {key!r} has shape {found} and dtype {dtype}, "
            f"expected shape {shape} and a dtype of kind {kind!r}."
        )
    return arrays.read(key)
