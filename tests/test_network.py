"""The torch networks (``_network``): inactive features, strict loading."""

import numpy as np
import pytest
import torch

from sklearn_bsq._fitted_state import InMemoryTensors
from sklearn_bsq._network import PlainMLP, QuantizedMLP, load_network
from sklearn_bsq._quantizers import build_quantizer


def quantized(active, n_features=3):
    init = [np.array([-0.5, 0.0, 0.5])] * len(active)
    quantizer = build_quantizer("soft", init, "thermometer")
    return QuantizedMLP(quantizer, (8,), 2, active, n_features)


def test_features_without_bits_are_ignored():
    torch.manual_seed(0)
    net = quantized([0, 2]).eval()
    x = torch.randn(5, 3)
    changed = x.clone()
    changed[:, 1] = 1e6  # the feature the quantizer does not cover
    torch.testing.assert_close(net(x), net(changed))
    codes = net.quantizer.hard_codes(x[:, [0, 2]])
    full = torch.zeros(5, 3, dtype=torch.int64)
    full[:, [0, 2]] = codes
    torch.testing.assert_close(net(codes=full), net(x))


def test_load_network_round_trip_and_refusals():
    torch.manual_seed(0)
    trained = PlainMLP(4, (8,), 1)
    arrays = {k: v.numpy().copy() for k, v in trained.state_dict().items()}
    loaded = load_network(lambda: PlainMLP(4, (8,), 1), InMemoryTensors(arrays))
    x = torch.randn(3, 4)
    torch.testing.assert_close(loaded(x), trained(x))
    assert not loaded.training

    with pytest.raises(ValueError, match="the network's tensors are"):
        load_network(lambda: PlainMLP(4, (8, 8), 1), InMemoryTensors(arrays))
    with pytest.raises(ValueError, match="size mismatch for module tensor 'mlp.0"):
        load_network(lambda: PlainMLP(5, (8,), 1), InMemoryTensors(arrays))
    arrays["mlp.2.bias"] = np.array([np.nan], np.float32)
    with pytest.raises(ValueError, match="holds NaN or infinity"):
        load_network(lambda: PlainMLP(4, (8,), 1), InMemoryTensors(arrays))
