"""The torch networks (``_network``): inactive features, strict loading."""

import numpy as np
import pytest
import torch

from sklearn_bsq._network import InMemoryTensors, PlainMLP, QuantizedMLP, load_network
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


def test_heads_are_independent_mlps_side_by_side():
    from sklearn_bsq._network import CombineHeads, HeadLinear

    torch.manual_seed(0)
    net = PlainMLP(4, (8, 6), 1, n_heads=3).eval()
    first, second, last = (
        m for m in net.mlp if isinstance(m, torch.nn.Linear | HeadLinear)
    )
    assert isinstance(net.mlp[-1], CombineHeads)
    x = torch.randn(5, 4)
    heads = []
    for h in range(3):
        z = torch.relu(
            x @ first.weight[8 * h : 8 * (h + 1)].T + first.bias[8 * h : 8 * (h + 1)]
        )
        z = torch.relu(z @ second.weight[h] + second.bias[h])
        heads.append(z @ last.weight[h] + last.bias[h])
    heads = torch.cat(heads, 1)  # (5, 3)
    torch.testing.assert_close(net(x), heads.mean(1))
    # no dropout here: training mode gives each head's output
    torch.testing.assert_close(net.train()(x), heads)


def test_classification_heads_average_probabilities():
    torch.manual_seed(0)
    net = PlainMLP(4, (8,), 3, n_heads=4, classification=True)
    x = torch.randn(6, 4)
    per_head = net.train()(x)  # no dropout: the eval pass sees the same heads
    assert per_head.shape == (6, 4, 3)
    combined = net.eval()(x)
    torch.testing.assert_close(
        torch.softmax(combined, 1), torch.softmax(per_head, 2).mean(1)
    )


def test_the_loss_of_heads_is_the_mean_of_their_losses():
    from sklearn_bsq._training import head_row_losses

    torch.manual_seed(0)
    outputs, y = torch.randn(5, 3), torch.randn(5)
    expected = torch.stack([(outputs[:, h] - y) ** 2 for h in range(3)], 1).mean(1)
    torch.testing.assert_close(head_row_losses(outputs, y, False), expected)
    logits, labels = torch.randn(5, 3, 4), torch.tensor([0, 3, 1, 2, 3])
    expected = torch.stack(
        [
            torch.nn.functional.cross_entropy(logits[:, h], labels, reduction="none")
            for h in range(3)
        ],
        1,
    ).mean(1)
    torch.testing.assert_close(head_row_losses(logits, labels, True), expected)


def test_one_head_keeps_the_plain_layout():
    torch.manual_seed(0)
    net = PlainMLP(4, (8,), 1, n_heads=1)
    assert list(net.state_dict()) == [
        "mlp.0.weight",
        "mlp.0.bias",
        "mlp.2.weight",
        "mlp.2.bias",
    ]
    assert all(type(m) in (torch.nn.Linear, torch.nn.ReLU) for m in net.mlp)
