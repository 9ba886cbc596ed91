"""The fitted state: one read-only codec at the centre (``codec_``), and the
``FittedState`` contract that persistence, export and plotting use: a state
taken from one estimator makes another one the same model, and a state that
contradicts its parameters is refused."""

import dataclasses

import matplotlib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_bsq import (
    FullPrecisionMLP,
    SoftQuantizer,
    SoftQuantizerClassifier,
    ThresholdDisplay,
    export_c,
    load,
    save,
)
from sklearn_bsq._estimator import estimator_from_state, fitted_state
from sklearn_bsq._network import InMemoryTensors
from sklearn_bsq.codec import Codec

from conftest import FAST

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def model(cancer):
    sq = SoftQuantizerClassifier([2, 3] * 15, random_state=0, **FAST)
    return sq.fit(cancer[0], cancer[2])


def test_a_state_makes_a_fresh_estimator_the_same_model(model, cancer):
    copy = estimator_from_state(SoftQuantizerClassifier, fitted_state(model))
    np.testing.assert_array_equal(copy.transform(cancer[1]), model.transform(cancer[1]))
    np.testing.assert_array_equal(
        copy.predict_proba(cancer[1]), model.predict_proba(cancer[1])
    )
    assert copy.bytes_per_row_ == 10 and copy.compression_ratio_ == 12.0
    assert copy.get_params() == model.get_params()

    # its own tensors: training the one later leaves the other as it is
    def storage(estimator):
        tensors = estimator.net_.module_.state_dict().values()
        return {t.data_ptr() for t in tensors if t.numel()}

    assert not storage(model) & storage(copy)


def test_a_state_that_contradicts_the_parameters_is_refused(model):
    state = fitted_state(model)
    four_bits = dataclasses.replace(state, params={**state.params, "n_bits": 4})
    with pytest.raises(ValueError, match="contradicts the stored widths"):
        estimator_from_state(SoftQuantizerClassifier, four_bits)
    codec = state.codec
    moved = Codec(
        codec.n_bits,
        [t + 1 for t in codec.thresholds],
        codec.bin_values,
        codec.representation,
    )
    with pytest.raises(ValueError, match="thresholds do not match the network"):
        estimator_from_state(
            SoftQuantizerClassifier, dataclasses.replace(state, codec=moved)
        )
    traced = dataclasses.replace(state, allocation_trace={"feature": np.array([-1])})
    with pytest.raises(ValueError, match="allocation trace goes with learned widths"):
        estimator_from_state(SoftQuantizerClassifier, traced)


class _NoReading(InMemoryTensors):
    def read(self, key):
        raise AssertionError(f"{key} was read before its shape was checked")


def test_tensor_shapes_are_checked_before_any_is_read(model):
    state = fitted_state(model)
    arrays = dict(state.module_state.arrays)
    arrays["mlp.0.weight"] = np.zeros((1, 1), np.float32)
    bad = dataclasses.replace(state, module_state=_NoReading(arrays))
    with pytest.raises(ValueError, match="size mismatch for module tensor"):
        estimator_from_state(SoftQuantizerClassifier, bad)


def test_export_and_plotting_name_what_they_take(cancer):
    mlp = FullPrecisionMLP(**{**FAST, "max_epochs": 1}).fit(cancer[0], cancer[2])
    with pytest.raises(TypeError, match="export_c takes a fitted SoftQuantizer"):
        export_c(mlp)
    with pytest.raises(
        TypeError, match="ThresholdDisplay.from_estimator takes a fitted SoftQuantizer"
    ):
        ThresholdDisplay.from_estimator(mlp, cancer[0])
    sq = SoftQuantizer(2, **{**FAST, "max_epochs": 1})
    pipeline = make_pipeline(StandardScaler(), sq).fit(cancer[0], cancer[2])
    with pytest.raises(TypeError, match=r"Pipeline's last step \(pipeline\[-1\]\)"):
        export_c(pipeline)


# ------------------------------------------------------------------ codec_
def test_the_codec_is_the_fitted_state_and_cannot_be_edited(model, cancer):
    codec = model.codec_
    assert isinstance(codec, Codec)
    assert model.thresholds_ is codec.thresholds and model.n_bits_ is codec.n_bits
    assert model.model_id_ == codec.model_id
    X_test = cancer[1]
    np.testing.assert_array_equal(codec.transform(X_test), model.transform(X_test))
    np.testing.assert_array_equal(codec.encode(X_test), model.encode(X_test))
    before = model.transform(X_test)
    with pytest.raises(ValueError, match="read-only"):
        model.thresholds_[0][0] = 1e9
    with pytest.raises(ValueError, match="read-only"):
        model.bin_values_[0][0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        model.n_bits_[0] = 8
    with pytest.raises(TypeError):
        model.thresholds_[0] = np.zeros(3, np.float32)
    with pytest.raises(AttributeError):
        model.thresholds_ = []
    np.testing.assert_array_equal(model.transform(X_test), before)


def test_a_codec_refuses_thresholds_that_do_not_fit_its_widths():
    with pytest.raises(ValueError, match="needs 3 thresholds and 4 bin values"):
        Codec([2], [[0.0, 1.0]], [[0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="not sorted"):
        Codec([2], [[0.0, 2.0, 1.0]], [[0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="must have shape"):
        Codec([1], [[0.0]], [[0.0, 1.0]]).encode(np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("X", "sample_weight", "match"),
    [
        ([[0.0], [np.nan]], None, "NaN or infinity"),
        (np.zeros((0, 1)), None, "at least one row"),
        ([0.0, 1.0], None, r"shape \(n_samples, n_features\)"),
        ([[0.0], [1.0]], [1.0, 1.0, 1.0], r"shape \(2,\)"),
        ([[0.0], [1.0]], [1.0, -1.0], "non-negative"),
    ],
)
def test_a_codec_learns_only_from_finite_rows_and_matching_weights(
    X, sample_weight, match
):
    with pytest.raises(ValueError, match=match):
        Codec.from_readings(X, [1], [[0.5]], sample_weight=sample_weight)


def test_save_after_set_params_writes_the_model_as_fitted(model, cancer, tmp_path):
    """set_params after fit does not change the fitted model; the file holds
    the parameters it was fitted with and loads and predicts as before."""
    original = model.get_params()
    model.set_params(n_bits=4, hidden_layer_sizes=(8,))
    try:
        save(model, tmp_path / "m.npz")
    finally:
        model.set_params(**original)
    loaded = load(tmp_path / "m.npz")
    assert loaded.get_params() == original
    np.testing.assert_array_equal(
        loaded.predict_proba(cancer[1]), model.predict_proba(cancer[1])
    )


def test_the_threshold_plot_draws_where_fit_started():
    """A feature taking the values 0 and 10 at 2 bits: one threshold between
    them and two spare ones SPARE_OFFSET / 4 standard deviations above the top
    (mean 5, standard deviation 5: 10 + 5 * 0.75 = 13.75, then 0.001 sd more)."""
    X = np.repeat([[0.0], [10.0]], 20, axis=0)
    y = np.tile([0, 1], 20)
    sq = SoftQuantizer(2, random_state=0, **{**FAST, "max_epochs": 1})
    sq.fit(X, y)
    display = ThresholdDisplay.from_estimator(sq, X)
    np.testing.assert_allclose(display.initial[0], [5.0, 13.75, 13.755], rtol=1e-6)
    matplotlib.pyplot.close(display.figure_)


def test_the_codec_and_the_command_lines_help_need_no_torch(model, tmp_path):
    """A gateway that encodes in Python ships the codec: unpickling it, and
    ``sklearn-bsq --help``, import no torch."""
    import pickle
    import subprocess
    import sys

    (tmp_path / "codec.pkl").write_bytes(pickle.dumps(model.codec_))
    code = (
        "import pickle, sys\n"
        f"codec = pickle.loads(open({str(tmp_path / 'codec.pkl')!r}, 'rb').read())\n"
        "print(codec.bytes_per_row)\n"
        "from sklearn_bsq.__main__ import build_parser\n"
        "build_parser().format_help()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str(model.bytes_per_row_)
