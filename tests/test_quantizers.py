"""The quantizers (``_quantizers``): threshold order, soft versus hard steps,
representations, and the registry that makes a new quantizer one class."""

import numpy as np
import pytest
import torch

from sklearn_bsq import SoftQuantizerClassifier, export_python, load, save
from sklearn_bsq._quantizers import (
    EMBEDDING_CHANNELS,
    QUANTIZERS,
    BitwiseSoftQuantizer,
    Quantizer,
    register,
    resolve_representation,
    unregister,
)
from sklearn_bsq._threshold_init import initial_thresholds

from conftest import FAST


def make_quantizer(widths, representation="thermometer"):
    init = [np.linspace(-1.0, 1.0, 2**b - 1) for b in widths]
    return BitwiseSoftQuantizer(init, resolve_representation(representation, widths))


class TestThresholds:
    def test_stay_sorted_after_optimisation(self):
        q = make_quantizer([3, 2], "levels")
        opt = torch.optim.Adam(q.parameters(), lr=0.1)
        x = torch.randn(256, 2)
        for _ in range(100):
            opt.zero_grad()
            # push the levels in random directions and squeeze the thresholds together
            loss = (q(x) * torch.randn(256, 2)).sum() + (q.thresholds() ** 2).sum()
            loss.backward()
            opt.step()
        t = q.thresholds().detach()
        assert torch.all(torch.isfinite(t))
        assert torch.all(torch.diff(t[0, :7]) >= 0)
        assert torch.all(torch.diff(t[1, :3]) >= 0)

    def test_initial_values_are_kept(self):
        q = make_quantizer([2])
        np.testing.assert_allclose(
            q.thresholds().detach().numpy()[0], [-1.0, 0.0, 1.0], atol=1e-6
        )

    def test_gradients_reach_thresholds(self):
        q = make_quantizer([2]).train()
        q(torch.randn(32, 1)).sum().backward()
        assert q.first.grad.abs().sum() > 0
        assert q.raw_gaps.grad.abs().sum() > 0


class TestSteps:
    def test_soft_converges_to_hard_as_steepness_grows(self):
        q = make_quantizer([3, 1])
        x = torch.randn(500, 2)
        hard = q.hard_steps(x)
        gaps = []
        for steepness in [1.0, 10.0, 100.0, 1000.0, 1e5]:
            q.steepness = steepness
            gaps.append((q.soft_steps(x) - hard).abs().max().item())
        assert all(a >= b for a, b in zip(gaps, gaps[1:], strict=False))
        # a reading 0.01 or more from every threshold sees hard steps at 1e5
        t = q.thresholds().detach()
        far = ((x[:, :, None] - t[None]).abs() >= 0.01).all(dim=2).all(dim=1)
        assert far.sum() > 400
        assert (q.soft_steps(x[far]) - hard[far]).abs().max() < 1e-6

    def test_value_on_threshold_goes_to_lower_code(self):
        q = make_quantizer([2]).eval()
        t = q.thresholds().detach()[0]
        steps = q.hard_steps(t[:, None])
        assert steps.sum(dim=(1, 2)).tolist() == [0.0, 1.0, 2.0]

    def test_codes_rebuild_the_hard_steps(self):
        q = make_quantizer([3, 1, 2]).eval()
        x = torch.randn(300, 3) * 2
        steps = q.hard_steps(x)
        codes = steps.sum(dim=2).long()
        torch.testing.assert_close(q.steps_from_codes(codes), steps)

    def test_eval_mode_is_hard_train_mode_is_soft(self):
        q = make_quantizer([2])
        x = torch.tensor([[0.1]])
        assert set(q.eval()(x).flatten().tolist()) <= {0.0, 1.0}
        assert not set(q.train()(x).flatten().tolist()) <= {0.0, 1.0}


class TestRepresentations:
    @pytest.mark.parametrize(
        "representation, width",
        [
            ("thermometer", 7 + 1 + 3),
            ("bits", 3 + 1 + 2),
            ("levels", 3),
            ("embedding", 3 * EMBEDDING_CHANNELS),
            ("embedding-4", 3 * 4),
            ("levels+thermometer", (7 + 1) + (1 + 1) + (3 + 1)),
            ("auto", (7 + 1) + (1 + 1) + (3 + 1)),  # "levels+thermometer"
        ],
    )
    def test_output_width(self, representation, width):
        q = make_quantizer([3, 1, 2], representation)
        assert q.out_features == width
        assert q(torch.randn(4, 3)).shape == (4, width)

    @pytest.mark.parametrize(
        "widths, chosen",
        [
            ([1, 1], "levels+thermometer"),
            ([3, 1], "levels+thermometer"),
            ([4, 1], "levels+thermometer"),
            ([4, 3], "levels+thermometer"),
            ([5, 1], "embedding-4"),
        ],
    )
    def test_auto_follows_the_widest_feature(self, widths, chosen):
        assert resolve_representation("auto", widths) == chosen
        assert make_quantizer(widths, "auto").representation == chosen

    def test_a_quantizer_is_built_with_auto_resolved(self):
        with pytest.raises(ValueError, match="resolve 'auto' first"):
            BitwiseSoftQuantizer([np.array([0.0])], "auto")

    def test_bits_are_the_binary_digits_of_the_code(self):
        q = make_quantizer([3, 1, 2], "bits").eval()
        codes = torch.tensor([[0, 0, 0], [5, 1, 2], [7, 0, 3], [6, 1, 1]])
        out = q(codes=codes)
        expected = [
            [0, 0, 0, 0, 0, 0],
            [1, 0, 1, 1, 1, 0],
            [1, 1, 1, 0, 1, 1],
            [1, 1, 0, 1, 0, 1],
        ]
        assert out.tolist() == expected

    def test_thermometer_counts_the_code(self):
        q = make_quantizer([2, 1]).eval()
        out = q(codes=torch.tensor([[2, 1]]))
        assert out.tolist() == [[1.0, 1.0, 0.0, 1.0]]

    @pytest.mark.parametrize("widths", [[3, 1, 2], [2, 2]])
    def test_levels_then_steps_per_feature(self, widths):
        """Each feature's block is its level followed by its thermometer steps,
        whatever the other features' widths (padding dropped), from readings
        and from codes alike."""
        both = make_quantizer(widths, "levels+thermometer").eval()
        levels = make_quantizer(widths, "levels").eval()
        levels.load_state_dict(both.state_dict())
        with torch.no_grad():  # trained-looking, distinct levels
            both.level_steps.uniform_(0.1, 1.0)
            levels.level_steps.copy_(both.level_steps)
        steps = make_quantizer(widths, "thermometer").eval()
        x = torch.randn(50, len(widths))
        expected = []
        step_columns = np.cumsum([0] + [2**b - 1 for b in widths])
        for j in range(len(widths)):
            expected.append(levels(x)[:, j : j + 1])
            expected.append(steps(x)[:, step_columns[j] : step_columns[j + 1]])
        expected = torch.cat(expected, dim=1)
        torch.testing.assert_close(both(x), expected)
        torch.testing.assert_close(both(codes=both.hard_codes(x)), expected)
        assert list(both.out_sizes) == [2**b for b in widths]

    def test_levels_are_monotone_at_initialisation(self):
        q = make_quantizer([3], "levels").eval()
        levels = q(codes=torch.arange(8)[:, None]).flatten()
        assert torch.all(torch.diff(levels) > 0)

    def test_unknown_representation(self):
        with pytest.raises(ValueError, match="representation must be one of"):
            make_quantizer([2], "onehot")


class TestLevelsShortcuts:
    """ "levels" skips the step tensors: hard levels gather a prefix sum, wide soft
    levels use only the sigmoids near each reading."""

    @pytest.mark.parametrize("representation", ["levels", "embedding"])
    @pytest.mark.parametrize("widths", [[3, 1, 2], [6, 8, 2]])
    def test_hard_levels_equal_the_step_representation(self, widths, representation):
        q = make_quantizer(widths, representation).eval()
        with torch.no_grad():
            q.level_steps.uniform_(0.1, 1.0)  # distinct, trained-looking levels
        x = torch.randn(500, len(widths)) * 1.5
        x[:3] = q.thresholds().detach()[:, 0]  # readings on a threshold
        expected = q.represent(q.hard_steps(x))
        torch.testing.assert_close(q(x), expected, rtol=1e-6, atol=1e-6)
        codes = q.hard_steps(x).sum(dim=2).long()
        torch.testing.assert_close(q.hard_codes(x), codes, rtol=0, atol=0)
        torch.testing.assert_close(q(codes=codes), expected, rtol=1e-6, atol=1e-6)

    @pytest.mark.parametrize("widths", [[6, 8], [8, 1, 6]])
    def test_windowed_soft_levels_match_all_sigmoids(self, widths):
        rng = np.random.default_rng(0)
        column = rng.standard_t(3, size=5000)  # heavy tails: dense middle thresholds
        init = [initial_thresholds(column, 2**b - 1) for b in widths]
        q = BitwiseSoftQuantizer(init, "levels").train()
        x = torch.as_tensor(
            rng.standard_t(3, size=(400, len(widths))), dtype=torch.float32
        )
        for steepness in [4.0, 64.0]:
            q.steepness = steepness
            windowed = q(x)
            full = q.represent(q.soft_steps(x))
            torch.testing.assert_close(windowed, full, rtol=0, atol=2e-3)
            grads = []
            for out in (windowed, full):
                q.zero_grad()
                out.pow(2).sum().backward(retain_graph=True)
                grads.append(
                    [p.grad.clone() for p in (q.first, q.raw_gaps, q.level_steps)]
                )
            for windowed_grad, full_grad in zip(*grads, strict=True):
                scale = full_grad.abs().max()
                assert (windowed_grad - full_grad).abs().max() <= 0.02 * scale


class FixedCodesQuantizer(Quantizer):
    """A quantizer written for this test: the initial thresholds, kept fixed,
    and the code itself as the network's input."""

    def __init__(self, init_thresholds, representation):
        super().__init__(init_thresholds)
        k_max = int(max(len(t) for t in init_thresholds))
        table = np.stack(
            [np.pad(t, (0, k_max - len(t)), mode="edge") for t in init_thresholds]
        )
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32))
        self.out_sizes = np.ones(len(init_thresholds), dtype=int)
        self.out_features = len(init_thresholds)

    def thresholds(self):
        return self.table

    def forward(self, x=None, codes=None):
        return (self.hard_codes(x) if codes is None else codes).to(torch.float32)


@pytest.fixture
def fixed_codes_registered():
    """``FixedCodesQuantizer`` registered for one test, and removed after it."""
    register("test-fixed-codes", uses_representation=False)(FixedCodesQuantizer)
    yield
    unregister("test-fixed-codes")
    assert "test-fixed-codes" not in QUANTIZERS


def test_a_registered_quantizer_works_end_to_end(
    cancer, tmp_path, fixed_codes_registered
):
    """A new quantizer is one class and one ``register`` call: the estimator,
    the wire format, persistence and export take it as it is."""
    X_train, X_test, y_train, _ = cancer
    sq = SoftQuantizerClassifier(
        [2, 3] * 15, quantizer="test-fixed-codes", random_state=0, **FAST
    ).fit(X_train, y_train)
    assert sq.score(X_test, cancer[3]) > 0.85
    # fixed quantile thresholds: a quarter of the training rows in every 2-bit bin
    counts = np.bincount(sq.encode(X_train)[:, 0], minlength=4)
    assert np.all(np.abs(counts - len(X_train) / 4) <= 2)
    packed = sq.transform(X_test)
    np.testing.assert_array_equal(sq.predict_packed(packed), sq.predict(X_test))
    save(sq, tmp_path / "m.bsq.npz")
    np.testing.assert_array_equal(
        load(tmp_path / "m.bsq.npz").transform(X_test), packed
    )
    namespace = {}
    exec(export_python(sq), namespace)
    assert namespace["encode"](X_test[0]) == packed[0].tobytes()
    with pytest.raises(ValueError, match="already registered"):
        register("soft")(FixedCodesQuantizer)
