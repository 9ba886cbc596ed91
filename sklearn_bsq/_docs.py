"""The parameter and attribute documentation the estimators share."""

import re

PARAMETERS_DOC = """
    Parameters
    ----------
    n_bits : int, sequence of int or "auto", default=4
        Bits per feature: one int (1..16) for all features, or one width per
        feature (0..16; a feature with 0 bits is not sent and the network
        ignores it), or "auto" to learn the widths under ``bit_budget``.
        Feature ``j`` is cut into ``2**n_bits[j]`` intervals. With
        ``allocation="learned"`` an int is bits per feature on average.
    bit_budget : int, default=None
        With ``n_bits="auto"``: the most bits per sample, summed over the
        features; the widths are learned under it (see Notes). The wide first
        pass makes the fit longer than at one width for every feature (the
        user guide's "Choosing bits" page has the measured cost);
        ``allocation_trace_`` records every removed bit.
    allocation : {{"auto", "uniform", "learned"}}, default="auto"
        How an int ``n_bits`` is spent: "uniform" gives every feature
        ``n_bits`` bits; "learned" learns the widths (see Notes) under
        ``n_bits * n_features`` bits per sample, so a row takes at most as many
        bytes as at one width for all. The same as ``n_bits="auto"`` with that
        ``bit_budget``, without counting the features first (in a Pipeline, or
        a grid search over ``n_bits``). "auto": "learned" up to 4 bits per
        feature with ``quantizer="soft"`` from 500 training rows, where
        learned widths were better on most datasets measured and on smooth
        data; "uniform" above 4 bits (no gain from 5 bits on, at a growing fit
        cost), on fewer rows (too few held-out rows to rank the bits), for the
        baseline quantizers and in ``partial_fit``. A sequence of widths is
        kept as given ("learned" cannot take one).
    {task}representation : {{"auto", "thermometer", "bits", "levels", "embedding", \
"embedding-4", "levels+thermometer"}}, default="auto"
        What the network sees of each code, rebuilt on the server from the
        code alone: the ``2**b - 1`` step outputs ("thermometer"), the ``b``
        binary digits of the code ("bits"), one trainable value per code
        ("levels"), 16 or 4 trainable values per code ("embedding",
        "embedding-4": a learned low-rank factor of the first layer on the
        thermometer), or the level followed by the steps
        ("levels+thermometer": a smooth trend through the level, bends
        through the steps). "auto", by the widest feature:
        "levels+thermometer" up to 4 bits, "embedding-4" above, where the
        thermometer's first layer grows with ``2**b`` and overfits. Each part
        was chosen from measurements on full data under the paper's protocol,
        on the 14-dataset benchmark, on small data and on smooth synthetic
        data (CHANGELOG.md).
    quantizer : {{"soft", "fixed", "lsq"}}, default="soft"
        How thresholds are trained. ``"soft"`` is the method: sigmoid steps of
        growing steepness. ``"fixed"`` keeps the initial thresholds (plain
        quantile, uniform or k-means binning; a baseline). ``"lsq"`` learns a
        uniform grid per feature (offset and step) with straight-through
        rounding and feeds the MLP the dequantized value, ignoring
        ``representation`` (a baseline).
    threshold_init : {{"quantile", "uniform", "kmeans"}}, default="quantile"
        Initial thresholds: equal-frequency, equal-width or 1-D k-means bins
        of the training data (``"lsq"`` uses only the outer two). Where a value
        repeats so often that quantiles coincide, ``"quantile"`` cuts by
        repeated medians instead, so that every threshold separates readings.
    hidden_layer_sizes : int or array-like of int, default=(128, 128)
        Widths of the MLP's hidden ReLU layers (one int: one layer).
    max_epochs : int or "auto", default="auto"
        Training epochs (the upper bound when ``early_stopping`` is on).
        "auto" scales them with the training rows ``n``: about
        ``2900 * min(1, n / 5000)**2`` optimizer steps, within 40 to 200
        epochs. With batches of 256: 40 epochs up to about 1,440 rows, 145 at
        5,000, 100 at 7,372, 40 from 18,576 on. With ``early_stopping`` and
        in ``partial_fit`` (40 calls) it means 40: the steepness and
        learning-rate schedules run over ``max_epochs``, and with longer ones
        early stopping ended fits while the steps were still soft.
    batch_size : int, default=256
        Rows per optimizer step.
    lr : float, default=3e-3
        AdamW learning rate (the first epoch's, with ``lr_schedule="cosine"``).
    weight_decay : float, default=1e-4
        AdamW weight decay.
    dropout : float, default=0.1
        Dropout probability after every hidden layer during training.
    n_heads : int, default=3
        MLPs of this shape trained side by side on the same input (for
        :class:`SoftQuantizer`: on the same codes, so the bytes do not change),
        each on its own loss; predictions are their mean (for classification
        the mean of their class probabilities). An ensemble: more heads lower
        the variance of a single network, at about ``n_heads`` times the
        MLP's training and prediction cost. Three keep most of what five give
        at 60 % of their multiply-adds; the server guide tables the choice, and
        :func:`sklearn_bsq.distill` turns a fitted model into fewer heads.
    lr_schedule : {{"cosine", "constant"}}, default="cosine"
        "cosine" decays the learning rate from ``lr`` towards 0 over
        ``max_epochs`` along a half cosine (epoch ``e`` of ``E`` uses
        ``lr * (1 + cos(pi * e / E)) / 2``), so the weights settle while the
        steps are nearly hard; "constant" keeps ``lr``.
    threshold_lr : float, "auto" or None, default="auto"
        AdamW learning rate of the thresholds (in standardized units; the
        schedule applies to it too). Adam moves a parameter by about its
        learning rate per step, and a threshold may have to travel a standard
        deviation or more, further than the network's ``lr`` takes it in a
        few hundred steps. "auto" is 2e-2 when the widest feature has 3 or 4
        bits and 1e-2 otherwise (the faster rate helped at 4 bits and hurt
        at 2 and 8; CHANGELOG.md). None uses ``lr``.
    steepness : (float, float), default=(4.0, 256.0)
        Sigmoid steepness in the first and last epoch, growing geometrically in
        between. Units are "levels per standard deviation": a value of ``s`` gives
        feature ``j`` the slope ``s * 2**n_bits[j]`` on the standardized feature.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its loss
        (computed with hard steps) has not improved for ``n_iter_no_change``
        epochs, and restore the best epoch.
    validation_fraction : float, default=0.1
        Share of the training rows held out with ``early_stopping`` (and by
        the bit allocation where the widths are learned).
    n_iter_no_change : int, default=10
        Epochs without improvement of the held-out loss before
        ``early_stopping`` stops.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and the validation split. The
        same value gives the same thresholds and the same bytes.
    verbose : int, default=0
        ``1`` prints skorch's table of losses per epoch (plain text when the
        output is not a terminal), ``2`` adds a progress bar over the batches of
        each epoch (on stderr).
    device : str, default="cpu"
        Where torch trains and predicts: "cpu", "cuda", "cuda:N", or "auto"
        (CUDA when torch finds it). A CUDA device that torch cannot find is a
        ``ValueError`` at ``fit``. Thresholds, bytes, saved files and exports
        do not depend on it; ``load`` puts a model on the device it is given.
    n_threads : int or "auto", default="auto"
        torch threads for ``fit`` and ``partial_fit`` and for predictions; the
        caller's setting (``torch.get_num_threads()``) is restored afterwards.
        "auto" trains on one thread, which loses little on a quiet machine and
        does not collapse when another process keeps a core busy (batches of a
        few hundred rows gain little from a second thread and wait for it), and
        predicts on torch's setting less the cores that other processes keep
        busy at the time (Linux; torch's setting elsewhere and for calls of
        fewer than 256 rows); a fit on one thread also gives the same network
        whatever the number of cores.

    Attributes
    ----------
    codec_ : :class:`~sklearn_bsq.codec.Codec`
        The fitted codec: widths, thresholds, bin values, representation and
        model id as read-only plain data (numpy, no torch), with ``encode``,
        ``pack``, ``transform``, ``unpack`` and ``inverse_transform``. What a
        node needs, e.g. to ship the encoder without torch. The attributes
        below up to ``compression_ratio_`` are read from it.
    thresholds_ : tuple of ndarray of float32
        Learned thresholds per feature in the caller's units, sorted, of length
        ``2**n_bits_[j] - 1`` (none for a feature that is not sent). A reading's
        code is the number of thresholds strictly below it. Read-only.
    n_bits_ : ndarray of int
        Bits per feature (0 for a feature that is not sent).
    representation_ : str or None
        The representation the network sees ("auto" resolved); None for
        ``quantizer="lsq"``, which feeds the dequantized value.
    allocation_trace_ : dict of ndarray
        Only where ``fit`` learned the widths (see ``allocation``): one entry
        per step of the allocation, the first being the wide start.
        ``feature`` lost a bit in that step (-1 at the start) and has
        ``n_bits`` left; ``total_bits`` is the sum of the
        widths after the step and ``validation_loss`` the wide model's loss on
        the held-out rows with those widths (cross-entropy, or MSE of the
        standardized target). ``pandas.DataFrame(allocation_trace_)`` shows it
        as a table.
    model_id_ : str
        The encoder's fingerprint: 16 hex digits of SHA-256 over the wire
        format version, ``n_bits_`` and the float32 ``thresholds_``. Exported
        encoders (``<NAME>_MODEL_ID``, ``MODEL_ID``) and saved files carry it,
        so a node and a server can check that they run the same model.
    bytes_per_row_ : int
        Bytes per packed sample, ``ceil(sum(n_bits_) / 8)``.
    compression_ratio_ : float
        ``32 * n_features_in_ / (8 * bytes_per_row_)``: size of float32 readings
        over size of the packed row.
    bin_values_ : tuple of ndarray
        Representative raw value of every code, used by ``inverse_transform``.
    target_ : FittedTarget
        The task and how network outputs become predictions; ``task_``
        ("classification" or "regression"), ``classes_`` (classification) and
        ``target_mean_``, ``target_scale_`` (regression) are read from it.
    feature_mean_, feature_scale_ : ndarray
        Standardization of the features applied before the quantizer.
    net_ : skorch net
        The trained network (quantizer + MLP).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
"""


TASK_DOC = """task : {"auto", "classification", "regression"}, default="auto"
        "auto" reads the target's type (``sklearn.utils.multiclass.type_of_target``):
        integer or string labels mean classification, non-integer floats mean
        regression. Pass the task explicitly for integer-valued regression
        targets ("auto" warns when whole numbers look like a quantity: more
        than 20 distinct values, fewer than 5 samples each on average); with an
        explicit task the estimator is a scikit-learn classifier or regressor.
    """

# the parameters of the network and its training, which every estimator has
NETWORK_PARAMETERS = (
    "hidden_layer_sizes",
    "max_epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "dropout",
    "n_heads",
    "lr_schedule",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "random_state",
    "verbose",
    "device",
    "n_threads",
)

NOTES_DOC = """
    Notes
    -----
    With ``n_bits="auto"``, or learned widths (``allocation="learned"``, or "auto" as
    documented there; ``bit_budget`` is then ``n_bits * n_features``), a wide
    model (every feature at ``ceil(bit_budget / n_features) + 2`` bits, at most 16; one
    head whatever ``n_heads``) is trained for half the epochs on all but
    ``validation_fraction`` of the data. Then the bits whose removal raises the
    validation loss least are removed until the widths fit the budget: a feature at
    ``w`` bits merges its wide codes into ``2**w`` groups of equal training frequency;
    near the budget one bit goes per scoring round, further away up to a quarter of
    the bits left to remove, one per feature; a bit goes before those of the widest
    features only if the validation loss says so by more than one standard error.
    Finally the model is trained for those widths as for fixed ``n_bits``.
"""


def parameters_doc(names, task: str = "") -> str:
    """A Parameters section of the shared entries ``names``, in that order
    (``task``: the text of the task entry, where the estimator has one)."""
    body = PARAMETERS_DOC.format(task=task).split("Attributes\n")[0]
    entries = {}
    for entry in re.split(r"\n(?=    \w+ :)", body)[1:]:  # [0]: the heading
        entries[entry.split(" :")[0].strip()] = entry.rstrip() + "\n"
    return "\n    Parameters\n    ----------\n" + "".join(entries[n] for n in names)


def estimator_doc(summary: str, examples: str, task: str = "") -> str:
    """A SoftQuantizer form's docstring: its summary, the shared parameters and
    attributes (``task`` documented where the form has it), the notes, its
    examples."""
    return (
        summary
        + PARAMETERS_DOC.format(task=task)
        + NOTES_DOC
        + "\n    Examples\n    --------\n"
        + examples
    )


PARTIAL_FIT_DOC = """Train on one chunk of the data: one epoch, going on from the last.

        The first call (on an estimator without a fit) fixes the task, the
        classes, the widths, the standardization and the initial thresholds from
        its chunk; later calls only train, with the parameters of the first call
        (or of ``fit``): a later call after ``set_params`` of any parameter but
        ``n_threads`` raises ``ValueError``. The steepness and learning-rate
        schedules count calls as epochs: after ``max_epochs`` calls (40 for
        ``max_epochs="auto"``, which cannot know the rows to come) the steps are
        at their final steepness and, with ``lr_schedule="cosine"``, the
        learning rate has decayed to 0, so use ``lr_schedule="constant"`` for an
        open-ended stream. ``bin_values_`` (what ``inverse_transform`` returns)
        comes from the latest chunk. ``early_stopping`` does not apply, and
        with ``n_bits="auto"`` or ``allocation="learned"`` there is no
        ``partial_fit`` (the widths are learned from all the data at once);
        with ``allocation="auto"`` every feature gets ``n_bits`` bits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, default=None
            Every class label the stream can hold, on the first call of a
            classifier (a chunk need not hold them all; default: the labels of
            the first chunk); a later call gives the same classes or none. A
            regression takes none.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row of the chunk. Unlike in ``fit``
            they are used as given, so that chunks weigh against each other:
            the chunk's loss is the mean of weight x row loss (keep weights
            around 1). On the first call they also weigh the standardization
            and the initial quantiles.

        Returns
        -------
        self : object

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn_bsq import SoftQuantizerClassifier
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = SoftQuantizerClassifier(2, lr_schedule="constant", random_state=0)
        >>> for start in range(0, 500, 100):  # five chunks of 100 rows
        ...     _ = clf.partial_fit(X[start : start + 100], y[start : start + 100],
        ...                         classes=[0, 1])
        >>> len(clf.net_.history), clf.bytes_per_row_
        (5, 8)
    """


def with_docstring(doc: str):
    """Give a method its docstring before decorators such as ``available_if``
    wrap it (setting ``__doc__`` afterwards reaches the wrapper, not ``help``)."""

    def document(method):
        method.__doc__ = doc
        return method

    return document
