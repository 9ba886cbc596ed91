"""save/load: data-only files that load whole or not at all."""

import copy
import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_bsq import (
    SoftQuantizer,
    SoftQuantizerClassifier,
    SoftQuantizerRegressor,
    load,
    save,
)
from sklearn_bsq.persistence import FORMAT_VERSION

from conftest import FAST


def fit(estimator, data, labels=None):
    X_train, _, y_train, _ = data
    y = y_train if labels is None else np.asarray(labels)[y_train]
    return estimator.fit(X_train, y)


@pytest.fixture(scope="module")
def classifier(cancer):
    return fit(SoftQuantizer([1, 2, 3, 4, 5] * 6, random_state=0, **FAST), cancer)


CASES = {
    "thermometer": lambda: SoftQuantizer(
        3, representation="thermometer", random_state=0, **FAST
    ),
    # the default: "auto" is "levels+thermometer" at 3 bits
    "levels+thermometer": lambda: SoftQuantizer(3, random_state=0, **FAST),
    "bits": lambda: SoftQuantizerClassifier(
        3, representation="bits", random_state=0, **FAST
    ),
    "levels": lambda: SoftQuantizer(2, representation="levels", random_state=0, **FAST),
    "lsq": lambda: SoftQuantizer(3, quantizer="lsq", random_state=0, **FAST),
    "fixed": lambda: SoftQuantizer(3, quantizer="fixed", random_state=0, **FAST),
    "unsent": lambda: SoftQuantizer([0, 3, 1, 0, 2] * 6, random_state=0, **FAST),
    "heads": lambda: SoftQuantizer(3, n_heads=3, random_state=0, **FAST),
}


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip_classification(case, cancer, tmp_path):
    est = fit(CASES[case](), cancer)
    save(est, tmp_path / "m.bsq.npz")
    loaded = load(tmp_path / "m.bsq.npz")
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    X_test = cancer[1]
    np.testing.assert_array_equal(loaded.transform(X_test), est.transform(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), est.predict(X_test))
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), est.predict_proba(X_test)
    )
    np.testing.assert_array_equal(
        loaded.inverse_transform(est.transform(X_test)),
        est.inverse_transform(est.transform(X_test)),
    )


def test_round_trip_with_widths_as_an_array(cancer, tmp_path):
    widths = np.array([0, 3, 1, 0, 2] * 6)
    est = fit(SoftQuantizer(widths, random_state=0, **FAST), cancer)
    save(est, tmp_path / "m.bsq.npz")
    loaded = load(tmp_path / "m.bsq.npz")
    assert isinstance(loaded.n_bits, np.ndarray)
    np.testing.assert_array_equal(loaded.n_bits, widths)
    X_test = cancer[1]
    np.testing.assert_array_equal(loaded.transform(X_test), est.transform(X_test))
    np.testing.assert_array_equal(loaded.predict(X_test), est.predict(X_test))


@pytest.mark.parametrize("hidden", [32, np.array([32, 16])])
def test_hidden_layers_given_as_scikit_learn_takes_them(hidden, cancer, tmp_path):
    # MLPClassifier takes one int for one layer, and any array-like
    params = {**FAST, "hidden_layer_sizes": hidden, "n_heads": 1}
    est = fit(SoftQuantizer(3, random_state=0, **params), cancer)
    state = est.net_.module_.state_dict()
    units = [b.numel() for k, b in state.items() if k.startswith("mlp") and "bias" in k]
    assert units[:-1] == np.atleast_1d(hidden).tolist()
    save(est, tmp_path / "m.bsq.npz")
    loaded = load(tmp_path / "m.bsq.npz")
    assert loaded.hidden_layer_sizes == (32 if np.ndim(hidden) == 0 else (32, 16))
    X_test = cancer[1]
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), est.predict_proba(X_test)
    )


def test_round_trip_regression_with_names(diabetes, tmp_path):
    X_train, X_test, y_train, _ = diabetes
    columns = [f"s{i}" for i in range(X_train.shape[1])]
    est = SoftQuantizerRegressor(4, random_state=0, **FAST)
    est.fit(pd.DataFrame(X_train, columns=columns), y_train)
    save(est, tmp_path / "r.npz")
    loaded = load(tmp_path / "r.npz")
    assert loaded.feature_names_in_.tolist() == columns
    df_test = pd.DataFrame(X_test, columns=columns)
    np.testing.assert_array_equal(loaded.predict(df_test), est.predict(df_test))
    packed = est.transform(df_test)
    np.testing.assert_array_equal(loaded.predict_packed(packed), est.predict(df_test))


def test_string_labels(cancer, tmp_path):
    est = fit(SoftQuantizer(2, random_state=0, **FAST), cancer, ["no", "yes"])
    save(est, tmp_path / "s.npz")
    loaded = load(tmp_path / "s.npz")
    assert loaded.classes_.tolist() == ["no", "yes"]
    np.testing.assert_array_equal(loaded.predict(cancer[1]), est.predict(cancer[1]))


def test_a_model_file_holds_only_the_server_form(classifier, tmp_path):
    save(classifier, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        names = set(archive.files)
    # exactly what a server needs: no optimizer moments, no training history
    module = {f"module.{k}" for k in classifier.net_.module_.state_dict()}
    fields = {"n_bits", "feature_mean", "feature_scale", "thresholds", "bin_values"}
    tables = {"code_frequencies", "code_contexts"}
    assert names == {"__metadata__"} | tables | fields | module


def test_load_in_a_fresh_process(classifier, cancer, tmp_path):
    save(classifier, tmp_path / "m.npz")
    np.save(tmp_path / "X.npy", cancer[1])
    code = (
        "import numpy as np, sys; from sklearn_bsq import load; "
        f"m = load({str(tmp_path / 'm.npz')!r}); "
        f"X = np.load({str(tmp_path / 'X.npy')!r}); "
        "sys.stdout.buffer.write(m.transform(X).tobytes())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert out.stdout == classifier.transform(cancer[1]).tobytes()


def test_refit_after_load(classifier, cancer, tmp_path):
    save(classifier, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    X_train, _, y_train, _ = cancer
    refit = loaded.fit(X_train, y_train)
    np.testing.assert_array_equal(
        refit.transform(X_train), classifier.transform(X_train)
    )


# ------------------------------------------------------------------ bad files
def rewrite(path, out, change):
    """Copy the archive with ``change(arrays, metadata)`` applied."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    metadata = json.loads(arrays.pop("__metadata__").tobytes())
    change(arrays, metadata)
    meta = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    np.savez(out, __metadata__=meta, **arrays)


@pytest.mark.parametrize("n_bits, built", [(2, "thermometer"), (6, "embedding")])
def test_auto_in_an_older_file_keeps_what_it_meant_then(
    cancer, tmp_path, n_bits, built
):
    """Files that do not record the representation were written when "auto" was
    the thermometer up to 4 bits and the embedding above."""
    est = fit(
        SoftQuantizer(n_bits, representation=built, random_state=0, **FAST), cancer
    )
    save(est, tmp_path / "new.npz")

    def as_written_before(arrays, metadata):
        metadata["params"]["representation"] = "auto"
        del metadata["representation"]

    rewrite(tmp_path / "new.npz", tmp_path / "old.npz", as_written_before)
    loaded = load(tmp_path / "old.npz")
    assert loaded.representation == "auto" and loaded.representation_ == built
    np.testing.assert_array_equal(
        loaded.predict_proba(cancer[1]), est.predict_proba(cancer[1])
    )


def test_auto_saved_when_it_meant_16_channels_loads_with_them(cancer, tmp_path):
    """Before "embedding-4", "auto" above 4 bits built the 16-channel embedding
    and the file recorded "embedding": it still loads, with 16 channels."""
    est = fit(
        SoftQuantizer(6, representation="embedding", random_state=0, **FAST), cancer
    )
    save(est, tmp_path / "new.npz")

    def as_written_before(arrays, metadata):
        metadata["params"]["representation"] = "auto"

    rewrite(tmp_path / "new.npz", tmp_path / "old.npz", as_written_before)
    loaded = load(tmp_path / "old.npz")
    assert loaded.representation == "auto" and loaded.representation_ == "embedding"
    assert loaded.model_id_ == est.model_id_
    np.testing.assert_array_equal(
        loaded.predict_proba(cancer[1]), est.predict_proba(cancer[1])
    )
    # a new fit with "auto" at 6 bits builds 4 channels
    refit = load(tmp_path / "old.npz").fit(cancer[0], cancer[2])
    assert refit.representation_ == "embedding-4"


@pytest.fixture
def saved(classifier, tmp_path):
    path = tmp_path / "good.npz"
    save(classifier, path)
    return path


def test_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 10):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a readable sklearn_bsq model file"):
            load(bad)


def test_corrupted_byte(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("module.mlp.0.weight.npy")
    data[info.header_offset + 200] ^= 0xFF  # inside the stored weights
    bad = tmp_path / "flip.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sklearn_bsq model file"):
        load(bad)


def test_file_objects_are_written_and_read_from_their_position(classifier, tmp_path):
    # a database blob, a storage client's stream: bytes in memory or a stream
    # that cannot seek back (gzip)
    buffer = io.BytesIO(b"head")
    buffer.seek(4)
    save(classifier, buffer)
    buffer.seek(4)
    from_memory = load(buffer)
    with gzip.open(tmp_path / "m.bsq.npz.gz", "wb") as f:
        save(classifier, f)
    with gzip.open(tmp_path / "m.bsq.npz.gz", "rb") as f:
        from_gzip = load(f)
    save(classifier, tmp_path / "m.bsq.npz")
    assert buffer.getvalue()[4:] == (tmp_path / "m.bsq.npz").read_bytes()
    X = np.random.default_rng(0).normal(size=(20, classifier.n_features_in_))
    for loaded in (from_memory, from_gzip):
        assert loaded.model_id_ == classifier.model_id_
        np.testing.assert_array_equal(loaded.transform(X), classifier.transform(X))
        np.testing.assert_array_equal(
            loaded.predict_proba(X), classifier.predict_proba(X)
        )


def test_text_streams_and_other_objects_are_refused_with_the_fix(classifier, tmp_path):
    with pytest.raises(
        TypeError, match=r"save\(\) writes bytes; .* binary mode \('wb'\)"
    ):
        save(classifier, io.StringIO())
    save(classifier, tmp_path / "m.bsq.npz")
    with open(tmp_path / "m.bsq.npz") as text:
        with pytest.raises(TypeError, match=r"binary mode \('rb'\), not text mode"):
            load(text)
    with pytest.raises(TypeError, match="takes a path or a binary file object"):
        save(classifier, 3)
    with pytest.raises(TypeError, match="got NoneType"):
        load(None)
    with pytest.raises(ValueError, match="the file object is not a readable"):
        load(io.BytesIO(b"not a model"))


def test_not_a_model_file(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable"):
        load(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="no __metadata__"):
        load(tmp_path / "plain.npz")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing.npz")


def test_pickled_arrays_are_refused(saved, tmp_path):
    def add_object(arrays, metadata):
        arrays["module.evil"] = np.array([object()], dtype=object)

    bad = tmp_path / "pickle.npz"
    rewrite(saved, bad, add_object)
    with pytest.raises(ValueError, match="allow_pickle"):
        load(bad)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda a, m: m.update(format_version=FORMAT_VERSION + 1),
            "format version 2 is not",
        ),
        (lambda a, m: m.update(format="other"), "does not name the sklearn_bsq format"),
        (lambda a, m: m.update({"class": "os.system"}), "unknown estimator class"),
        (lambda a, m: a.update(n_bits=a["n_bits"][:-1]), "array 'n_bits' has shape"),
        (lambda a, m: a.update(n_bits=a["n_bits"] + 1), "array 'thresholds' has shape"),
        (
            lambda a, m: a.update(thresholds=a["thresholds"] + 1),
            "but its thresholds are those of model",
        ),
        (  # without the fingerprint, the network's own thresholds catch it
            lambda a, m: (a.update(thresholds=a["thresholds"] + 1), m.pop("model_id")),
            "stored thresholds do not",
        ),
        (
            lambda a, m: a.update(feature_scale=a["feature_scale"] * 2),
            "stored thresholds",
        ),
        (lambda a, m: a.pop("module.mlp.0.weight"), "module.mlp.0.weight"),
        (lambda a, m: a.update({"module.extra": np.zeros(2)}), "unexpected arrays"),
        (
            lambda a, m: a.update(
                {"module.mlp.0.weight": a["module.mlp.0.weight"][:, :-1]}
            ),
            "size mismatch",
        ),
        (
            lambda a, m: a.update(
                {"module.mlp.0.bias": a["module.mlp.0.bias"] * np.nan}
            ),
            "NaN or infinity",
        ),
        (lambda a, m: m["classes"].update(values=[0]), "at least 2 labels"),
        (lambda a, m: m.update(task="ranking"), "unknown task"),
        (  # format v2 tables: a row that no longer sums to 2**P
            lambda a, m: a["code_frequencies"].__setitem__(0, 9),
            "must be positive and sum to",
        ),
        (
            lambda a, m: a.update(code_contexts=a["code_contexts"] * 0 + 5),
            "earlier feature or -1",
        ),
        (lambda a, m: a.pop("code_contexts"), "without the other code table"),
        (
            lambda a, m: (a.pop("code_contexts"), a.pop("code_frequencies")),
            "message estimate but no code tables",
        ),
        (
            lambda a, m: m.update(estimated_message_bits=-1.0),
            "must not be negative",
        ),
    ],
)
def test_inconsistent_files(saved, tmp_path, change, match):
    bad = tmp_path / "bad.npz"
    rewrite(saved, bad, change)
    with pytest.raises(ValueError, match=match):
        load(bad)


def test_interrupted_save_keeps_the_old_file(classifier, saved, monkeypatch):
    before = saved.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        save(classifier, saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["good.npz"]


def test_a_state_that_would_not_load_is_never_written(classifier, saved, tmp_path):
    # The estimator's parameters no longer describe its fitted network (as
    # set_params before partial_fit once left them): its file would not load.
    broken = copy.deepcopy(classifier)
    broken._fitted_params_["n_bits"] = 4
    before = saved.read_bytes()
    with pytest.raises(ValueError, match=r"save\(\) wrote nothing: .*contradicts"):
        save(broken, saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["good.npz"]
    stream = io.BytesIO()
    with pytest.raises(ValueError, match="wrote nothing"):
        save(broken, stream)
    assert stream.getvalue() == b""
    with pytest.raises(ValueError, match="wrote nothing"):
        save(broken, os.devnull)  # a device: checked before any of it goes out


def test_save_and_load_leave_torchs_generator_alone(classifier, tmp_path):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    save(classifier, tmp_path / "m.npz")
    load(tmp_path / "m.npz")
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="takes a SoftQuantizer"):
        save(object(), tmp_path / "x.npz")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save(SoftQuantizer(), tmp_path / "x.npz")


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_file_written_by_an_earlier_release_loads_and_encodes_the_same():
    """``diabetes-format1.bsq.npz`` was written by the release before ``dropout``,
    ``lr_schedule``, ``threshold_lr``, ``n_heads`` and ``allocation`` existed (3
    bits, "levels"); its bytes and predictions are kept beside it. A change of
    format, of a default or of the network layout that breaks old files fails
    here."""
    est = load(FIXTURES / "diabetes-format1.bsq.npz")
    expected = np.load(FIXTURES / "diabetes-format1-expected.npz")
    assert est.dropout == 0.0 and est.lr_schedule == "constant"
    assert est.threshold_lr is None and est.n_heads == 1
    assert est.allocation == "uniform"  # its widths were given, whatever the default
    np.testing.assert_array_equal(est.transform(expected["X"]), expected["packed"])
    np.testing.assert_allclose(
        est.predict_packed(expected["packed"]), expected["predictions"], rtol=1e-6
    )


def test_a_network_that_rounds_its_thresholds_in_the_last_bit_still_loads(
    classifier, cancer, tmp_path
):
    """Another CPU rounds the network's softplus gaps in the last float32 bit
    (the committed fixture failed to load so): the file still loads and
    encodes as saved; a network trained for other thresholds is refused."""
    save(classifier, tmp_path / "m.npz")

    def last_bit(arrays, metadata):
        first = arrays["module.quantizer.first"]
        arrays["module.quantizer.first"] = np.nextafter(first, np.float32(np.inf))

    rewrite(tmp_path / "m.npz", tmp_path / "ulp.npz", last_bit)
    loaded = load(tmp_path / "ulp.npz")
    X_test = cancer[1]
    np.testing.assert_array_equal(
        loaded.transform(X_test), classifier.transform(X_test)
    )

    def moved(arrays, metadata):
        arrays["module.quantizer.first"] = arrays["module.quantizer.first"] + 1e-3

    rewrite(tmp_path / "m.npz", tmp_path / "moved.npz", moved)
    with pytest.raises(ValueError, match="thresholds do not match the network"):
        load(tmp_path / "moved.npz")


# ------------------------------------------------ hostile files (adversarial review)
@pytest.fixture(scope="module")
def regressor(diabetes):
    return fit(SoftQuantizerRegressor(3, random_state=0, **FAST), diabetes)


@pytest.fixture
def saved_regressor(regressor, tmp_path):
    path = tmp_path / "reg.npz"
    save(regressor, path)
    return path


def _set(field, value):
    return lambda a, m: m.update({field: value})


@pytest.mark.parametrize(
    "change, match",
    [
        (_set("target_scale", float("nan")), "'target_scale' must be a finite"),
        (_set("target_scale", float("inf")), "'target_scale' must be a finite"),
        (_set("target_scale", 0.0), "'target_scale' must be positive"),
        (_set("target_scale", -2.0), "'target_scale' must be positive"),
        (_set("target_mean", float("nan")), "'target_mean' must be a finite"),
        (_set("target_mean", 10**400), "'target_mean' must be a finite"),
        (_set("target_mean", "1.0"), "'target_mean' must be a finite"),
        (_set("format_version", True), "format version True is not"),
        (_set("n_features_in", 10.0), "'n_features_in' must be a positive whole"),
        (
            lambda a, m: a.update(bin_values=a["bin_values"] * np.inf),
            "'bin_values' must be finite",
        ),
        (
            lambda a, m: a.update(feature_scale=a["feature_scale"] * 1e300),
            "'feature_scale' must be positive and within float32",
        ),
        (
            lambda a, m: a.update(feature_scale=a["feature_scale"] * 0),
            "'feature_scale' must be positive and within float32",
        ),
        (
            lambda a, m: m["params"].update(n_bits=2),
            "parameter 'n_bits' contradicts the stored widths",
        ),
    ],
)
def test_fields_that_would_load_a_wrong_regressor(
    saved_regressor, tmp_path, change, match
):
    bad = tmp_path / "bad.npz"
    rewrite(saved_regressor, bad, change)
    with pytest.raises(ValueError, match=match):
        load(bad)


@pytest.mark.parametrize(
    "values, dtype, match",
    [
        ([0, 0], "<i8", "sorted and without repeats"),
        ([1, 0], "<i8", "sorted and without repeats"),
        (["b", "a"], "<U1", "sorted and without repeats"),
        ([0, 1], "<M8[ns]", "dtype datetime64"),
        ([0.0, float("nan")], "<f8", "NaN or infinity"),
    ],
)
def test_classes_that_would_load_a_wrong_classifier(
    saved, tmp_path, values, dtype, match
):
    bad = tmp_path / "bad.npz"
    rewrite(
        saved, bad, lambda a, m: m.update(classes={"dtype": dtype, "values": values})
    )
    with pytest.raises(ValueError, match=match):
        load(bad)


def _raw_archive(path, members, compression=zipfile.ZIP_STORED):
    """A zip of ``members`` (name -> bytes) written as given."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _npy(array):
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_refuses_unknown_members_and_odd_zips(saved, tmp_path):
    members = _members(saved)
    unknown = tmp_path / "unknown.npz"
    _raw_archive(unknown, {**members, "junk.npy": _npy(np.zeros(10))})
    with pytest.raises(ValueError, match=r"unexpected members \['junk.npy'\]"):
        load(unknown)

    bzip2 = tmp_path / "bzip2.npz"
    _raw_archive(bzip2, members, compression=zipfile.ZIP_BZIP2)
    with pytest.raises(ValueError, match=r"is compressed \(method 12\)"):
        load(bzip2)
    deflated = tmp_path / "deflated.npz"  # what save writes, but deflated
    _raw_archive(deflated, members, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="model files are stored uncompressed"):
        load(deflated)

    encrypted = tmp_path / "encrypted.npz"
    data = bytearray(saved.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(signature)
        while start >= 0:
            data[start + flag_at] |= 0x1
            start = data.find(signature, start + 4)
    encrypted.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is encrypted"):
        load(encrypted)

    many = tmp_path / "many.npz"
    _raw_archive(many, {**members, **{f"module.x{i}.npy": b"" for i in range(2000)}})
    with pytest.raises(ValueError, match=r"\d{4} members; a model file has far fewer"):
        load(many)

    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    with pytest.raises(ValueError, match="not a readable sklearn_bsq model file"):
        load(plain)


def test_declared_sizes_are_checked_before_reading(saved, tmp_path):
    members = _members(saved)
    header = _npy(np.zeros(2))
    # an npy header that declares 10**12 float64 values over 16 bytes of data
    huge = header.replace(b"(2,)", b"(1000000000000,)").replace(b" " * 12, b"", 1)
    lying = tmp_path / "lying.npz"
    _raw_archive(lying, {**members, "bin_values.npy": huge})
    with pytest.raises(ValueError, match="declares 8000000000000 bytes"):
        load(lying)

    big_metadata = tmp_path / "metadata.npz"
    padding = np.frombuffer(b" " * (2 << 20) + b"{}", np.uint8)
    _raw_archive(big_metadata, {**members, "__metadata__.npy": _npy(padding)})
    with pytest.raises(ValueError, match="metadata is larger than"):
        load(big_metadata)


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    code = f"import sklearn_bsq\nsklearn_bsq.load({str(fifo)!r})\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert "is not a regular file" in result.stderr


def _peak_rss_mb_of_loading(path) -> float:
    """Peak resident memory (MB) of a fresh process that loads ``path``."""
    code = (
        "import resource, sklearn_bsq\n"
        "try:\n"
        f"    sklearn_bsq.load({str(path)!r})\n"
        "except ValueError:\n"
        "    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def test_small_files_cannot_make_load_allocate_much(saved, tmp_path):
    members = _members(saved)
    bombs = {}
    # 1 GiB of zeros deflate to about 1 MB: under a name the format does not know
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        with zf.open("junk.npy", "w", force_zip64=True) as f:
            chunk = bytes(1 << 24)
            for _ in range(64):
                f.write(chunk)
    bombs["zeros under an unknown key"] = bomb
    # metadata that describes a network of 2 x 30000 units (3.4 GB of weights)
    wide = tmp_path / "wide.npz"
    rewrite(
        saved, wide, lambda a, m: m["params"].update(hidden_layer_sizes=[30000, 30000])
    )
    bombs["hidden_layer_sizes [30000, 30000]"] = wide
    # 100 features x 16 bits, deflated: 0.1 MB declaring 78 MB of thresholds
    # and bin values (it took 1.9 GB and 22 s before its ValueError)
    deep = tmp_path / "deep.npz"
    widths = np.full(100, 16)

    def sixteen_bits(arrays, metadata):
        metadata["n_features_in"] = 100
        metadata["feature_names_in"] = None
        metadata["params"]["n_bits"] = 16
        arrays["n_bits"] = widths
        arrays["feature_mean"] = np.zeros(100)
        arrays["feature_scale"] = np.ones(100)
        arrays["thresholds"] = np.zeros(100 * 65535, np.float32)
        arrays["bin_values"] = np.zeros(100 * 65536)

    rewrite(saved, tmp_path / "deep_stored.npz", sixteen_bits)
    _raw_archive(
        deep, _members(tmp_path / "deep_stored.npz"), compression=zipfile.ZIP_DEFLATED
    )
    bombs["100 features x 16 bits, deflated"] = deep
    # string labels whose dtype holds 500 million characters each (5.6 GiB)
    labels = tmp_path / "labels.npz"
    rewrite(
        saved,
        labels,
        lambda a, m: m.update(classes={"dtype": "<U500000000", "values": ["a", "b"]}),
    )
    bombs["classes of dtype <U500000000"] = labels
    baseline = _peak_rss_mb_of_loading(saved)
    for what, path in bombs.items():
        assert path.stat().st_size < 10 << 20, what
        with pytest.raises(ValueError):
            load(path)
        assert _peak_rss_mb_of_loading(path) < baseline + 50, what


def test_a_damaged_npy_header_is_a_value_error(saved, tmp_path):
    members = _members(saved)
    header = members["n_bits.npy"]
    # the header's dict literal cut open: numpy's tokenizer fails on it
    broken = header.replace(b"'descr'", b"('descr'", 1)
    bad = tmp_path / "header.npz"
    _raw_archive(bad, {**members, "n_bits.npy": broken})
    with pytest.raises(ValueError, match="damaged npy header"):
        load(bad)


def test_load_puts_the_model_on_the_device_it_is_given(classifier, cancer, tmp_path):
    import torch

    save(classifier.set_params(device="auto"), tmp_path / "m.npz")
    classifier.set_params(device="cpu")
    loaded = load(tmp_path / "m.npz")  # the default: the CPU
    assert loaded.device == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(
        loaded.predict_proba(cancer[1]), classifier.predict_proba(cancer[1])
    )
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch finds no CUDA device"):
            load(tmp_path / "m.npz", device="cuda")
    for device in (None, torch.device("cpu")):
        with pytest.raises(TypeError, match="device must be a string, 'cpu'"):
            load(tmp_path / "m.npz", device=device)


# ------------------------------------------- second adversarial round (issue 30)
def test_a_feature_below_float32s_smallest_normal_saves_and_loads(cancer, tmp_path):
    """Readings of a subnormal scale (``X * 1e-38``) are data: the file that
    save writes loads and encodes the same (load refused it)."""
    X_train, X_test, y_train, _ = cancer
    est = SoftQuantizerClassifier(2, random_state=0, **{**FAST, "max_epochs": 2})
    est.fit(X_train * 1e-38, y_train)
    save(est, tmp_path / "tiny.npz")
    loaded = load(tmp_path / "tiny.npz")
    np.testing.assert_array_equal(
        loaded.transform(X_test * 1e-38), est.transform(X_test * 1e-38)
    )


def test_files_that_cannot_be_read_are_value_errors(saved, tmp_path):
    shifted = tmp_path / "shifted.npz"  # the first byte dropped
    shifted.write_bytes(saved.read_bytes()[1:])
    loop = tmp_path / "loop.npz"
    loop.symlink_to(loop)
    long_name = tmp_path / ("x" * 5000)
    for path in (shifted, loop, long_name):
        with pytest.raises(ValueError, match="not a readable sklearn_bsq model file"):
            load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def _relabel(name):
    """A SoftQuantizer file as another class (which has no task parameter)."""

    def change(arrays, metadata):
        metadata["class"] = name
        del metadata["params"]["task"]

    return change


@pytest.mark.parametrize(
    "change, match",
    [
        (_relabel("SoftQuantizerRegressor"), "cannot hold"),
        (lambda a, m: m["params"].update(task="regression"), "cannot hold"),
        (lambda a, m: m["params"].update(batch_size=-5), "batch_size"),
        (lambda a, m: m["params"].update(steepness=[1, 2, 3]), "steepness"),
    ],
)
def test_contradictions_in_a_file_are_refused(saved, tmp_path, change, match):
    rewrite(saved, tmp_path / "edited.npz", change)
    with pytest.raises(ValueError, match=match):
        load(tmp_path / "edited.npz")


def test_a_key_given_twice_in_the_metadata_is_refused(saved, tmp_path):
    members = _members(saved)
    text = np.load(saved)["__metadata__"].tobytes().decode()
    twice = text.replace('"task": ', '"task": "regression", "task": ', 1)
    members["__metadata__.npy"] = _npy(np.frombuffer(twice.encode(), np.uint8))
    _raw_archive(tmp_path / "twice.npz", members)
    with pytest.raises(ValueError, match=r"gives the keys \['task'\] twice"):
        load(tmp_path / "twice.npz")


def test_saving_a_pipeline_names_the_steps_it_cannot_write(cancer, tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    sq = SoftQuantizerClassifier(2, random_state=0, **{**FAST, "max_epochs": 1})
    pipeline = make_pipeline(StandardScaler(), sq).fit(cancer[0], cancer[2])
    with pytest.raises(TypeError) as refused:
        save(pipeline, tmp_path / "p.npz")
    message = str(refused.value)
    assert (
        "cannot write the Pipeline steps 'standardscaler' (StandardScaler)" in message
    )
    assert "save(pipeline['softquantizerclassifier'], path)" in message
    assert not (tmp_path / "p.npz").exists()
    save(pipeline["softquantizerclassifier"], tmp_path / "q.npz")  # as advised
    np.testing.assert_array_equal(
        load(tmp_path / "q.npz").transform(cancer[1]), sq.transform(cancer[1])
    )
