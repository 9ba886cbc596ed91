"""How a SoftQuantizer's parameters train its quantizer and MLP.

One path for ``fit``, the bit allocation's wide pass and ``partial_fit``: the
target and the standardization are fitted, the widths fixed (given or
allocated), the thresholds start where ``_threshold_init`` says, the module is
built by :meth:`QuantizerTraining.build_module`, and what training leaves is a
:class:`TrainedQuantizer` whose codec the estimator adopts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ._allocation import WIDE_HEADS, allocate_bits, start_width
from ._generators import RandomStream
from ._memory import check_training_memory, training_bytes
from ._network import QuantizedMLP
from ._quantizers import (
    build_quantizer,
    level_channels,
    network_inputs,
    quantizer_representation,
)
from ._standardization import fit_standardization, standardize, to_raw_units
from ._target import FittedTarget, check_stream_classes, resolve_task
from ._threshold_init import model_initial_thresholds
from ._training import TrainingSetup, draw_seed, training_inputs
from ._validation import check_hidden_layer_sizes, check_steepness
from ._widths import n_thresholds, widths_of
from .codec import Codec


@dataclass
class TrainedQuantizer:
    """What training leaves: the fitted parts of a SoftQuantizer."""

    target: FittedTarget
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    codec: Codec
    net: object  # the skorch net
    allocation_trace: dict | None = None
    stream: RandomStream = field(default_factory=RandomStream)


class QuantizerTraining:
    """The training side of an estimator, from its public parameters.

    Parameters
    ----------
    estimator : SoftQuantizer
        Read, never written: its parameters and the task it is fixed to.
    task : str
        The task as configured ("auto", "classification" or "regression").
    """

    def __init__(self, estimator, task: str) -> None:
        self.estimator = estimator
        self.task = task
        self.hidden = check_hidden_layer_sizes(estimator.hidden_layer_sizes)

    # ------------------------------------------------------------- modules
    def representation(self, widths, meaning: str = "current") -> str | None:
        est = self.estimator
        return quantizer_representation(
            est.quantizer, est.representation, widths, meaning
        )

    def build_module(
        self,
        init_thresholds: list[np.ndarray],
        target: FittedTarget,
        representation: str | None,
        n_heads: int | None = None,
    ) -> QuantizedMLP:
        """Quantizer + MLP for these initial (standardized) thresholds, with
        the estimator's ``n_heads`` unless given; features without thresholds
        (width 0) are left out of the quantizer."""
        est = self.estimator
        active = [j for j, t in enumerate(init_thresholds) if len(t)]
        quantizer = build_quantizer(
            est.quantizer, [init_thresholds[j] for j in active], representation
        )
        return QuantizedMLP(
            quantizer,
            self.hidden,
            target.n_outputs,
            active,
            len(init_thresholds),
            est.dropout,
            est.n_heads if n_heads is None else n_heads,
            classification=target.classification,
        )

    def placeholder_module(
        self, widths, target: FittedTarget, representation: str | None
    ) -> QuantizedMLP:
        """A module of the right layout, to load trained tensors into."""
        placeholder = [np.arange(float(n_thresholds(int(b)))) for b in widths]
        return self.build_module(placeholder, target, representation)

    def check_memory(
        self,
        widths,
        target: FittedTarget,
        what: str,
        meaning="current",
        n_heads: int | None = None,
    ):
        """Refuse (MemoryError, with the estimate and the fix) widths and
        layers whose training would not fit in the memory available
        (``n_heads``: the estimator's unless given)."""
        est = self.estimator
        representation = self.representation(widths, meaning)
        needed = training_bytes(
            widths,
            network_inputs(representation, widths),
            self.hidden,
            est.n_heads if n_heads is None else n_heads,
            target.n_outputs,
            est.batch_size,
            # a threshold and a level step in every channel of the levels
            values_per_threshold=1 + level_channels(representation),
        )
        check_training_memory(needed, what)

    def setup(self, target: FittedTarget, n_rows: int | None = None) -> TrainingSetup:
        est = self.estimator
        return TrainingSetup.for_estimator(
            est,
            target.n_outputs if target.classification else None,
            n_rows,
            check_steepness(est.steepness),
            est.threshold_lr,
        )

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, widths, bit_budget, sample_weight=None) -> TrainedQuantizer:
        """Train on all the data; ``widths`` is None when ``bit_budget`` is
        given (the widths are allocated first)."""
        est = self.estimator
        target, y_train = FittedTarget.fit(resolve_task(self.task, y), y, sample_weight)
        mean, scale = fit_standardization(X, sample_weight)
        X_std = standardize(X, mean, scale)
        setup = self.setup(target, len(X))
        trace = None
        if bit_budget is not None:
            wide = [start_width(bit_budget, X.shape[1])] * X.shape[1]
            self.check_memory(
                wide,
                target,
                "the bit allocation's wide pass",
                "thermometer",
                WIDE_HEADS,
            )
            widths, trace = allocate_bits(
                X_std,
                y_train,
                bit_budget,
                # the wide pass ranks bits on what "auto" meant when the
                # allocation was designed (AUTO_MEANINGS)
                build_module=lambda init, n_heads: self.build_module(
                    init,
                    target,
                    self.representation(
                        widths_of([len(t) for t in init]), "thermometer"
                    ),
                    n_heads,
                ),
                setup=setup,
                seed=draw_seed(est.random_state),
                threshold_init=est.threshold_init,
                validation_fraction=est.validation_fraction,
                early_stopping=est.early_stopping,
                log=print if est.verbose else None,
                sample_weight=sample_weight,
            )
        self.check_memory(widths, target, "this model")
        init = model_initial_thresholds(
            X_std, widths, est.threshold_init, sample_weight
        )
        representation = self.representation(widths)
        net = setup.fit(
            lambda: self.build_module(init, target, representation),
            X_std,
            y_train,
            seed=draw_seed(est.random_state),
            validation_fraction=est.validation_fraction if est.early_stopping else None,
            sample_weight=sample_weight,
        )
        codec = trained_codec(
            net, X, widths, mean, scale, representation, sample_weight
        )
        return TrainedQuantizer(target, mean, scale, codec, net, trace)

    # ----------------------------------------------------------- partial_fit
    def start_stream(self, X, y, widths, classes, sample_weight) -> TrainedQuantizer:
        """The first chunk of ``partial_fit``: what a fit derives from all its
        data comes from this chunk (``classes`` names every label)."""
        check_stream_classes(classes, self.task)
        task = "classification" if classes is not None else self.task
        task = resolve_task(task, y)
        if task == "classification":
            labels = y if classes is None else np.asarray(classes)
            if classes is None and np.unique(labels).size < 2:
                raise ValueError(
                    "the first partial_fit chunk holds one class; give every label "
                    "the stream can hold with classes=."
                )
            target = FittedTarget.fit("classification", labels)[0]
            y_train = target.encode(y)
        else:
            target, y_train = FittedTarget.fit("regression", y, sample_weight)
        self.check_memory(widths, target, "this model")
        mean, scale = fit_standardization(X, sample_weight)
        X_std = standardize(X, mean, scale)
        init = model_initial_thresholds(
            X_std, widths, self.estimator.threshold_init, sample_weight
        )
        representation = self.representation(widths)
        setup = self.setup(target)
        stream = RandomStream()
        with stream.resumed(setup.device):
            net = setup.start(
                lambda: self.build_module(init, target, representation),
                draw_seed(self.estimator.random_state),
            )
            _train_one_epoch(net, X_std, y_train, sample_weight)
        codec = trained_codec(
            net, X, widths, mean, scale, representation, sample_weight
        )
        return TrainedQuantizer(target, mean, scale, codec, net, stream=stream)

    def next_chunk(
        self, trained: TrainedQuantizer, X, y, sample_weight, seed: int
    ) -> TrainedQuantizer:
        """One epoch over a later chunk, continuing the stream (from ``seed``
        when the stream has no state: a loaded model); the codec follows."""
        net = trained.net
        X_std = standardize(X, trained.feature_mean, trained.feature_scale)
        with trained.stream.resumed(str(net.device), seed=seed):
            _train_one_epoch(net, X_std, trained.target.encode(y), sample_weight)
        codec = trained_codec(
            net,
            X,
            trained.codec.n_bits,
            trained.feature_mean,
            trained.feature_scale,
            trained.codec.representation,
            sample_weight,
        )
        return dataclasses.replace(trained, codec=codec)


def _train_one_epoch(net, X_std, y, sample_weight) -> None:
    net.partial_fit(training_inputs(X_std, sample_weight), y, epochs=1)
    net.module_.eval()


def trained_codec(
    net, X, widths, mean, scale, representation, sample_weight=None
) -> Codec:
    """The codec of a trained network: its thresholds in raw units, the bin
    values of the training rows ``X``."""
    learned = iter(net.module_.quantizer.feature_thresholds())
    thresholds = [
        to_raw_units(next(learned), m, s) if b else np.empty(0, np.float32)
        for b, m, s in zip(widths, mean, scale, strict=True)
    ]
    return Codec.from_readings(X, widths, thresholds, representation, sample_weight)
