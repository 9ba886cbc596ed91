"""Scaling out with Dask: grid searches on a real ``distributed.LocalCluster``
(processes, 2 workers, 1 thread each, started here), and the node and server
paths applied block by block to Dask arrays and DataFrames of a million rows."""

import dask.array as da  # the test extra installs dask: pip install -e ".[test]"
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_bsq import SoftQuantizerClassifier

from conftest import FAST


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.mark.slow
def test_grid_search_on_the_cluster_scores_as_on_loky(client, cancer):
    from joblib import parallel_backend

    X_train, _, y_train, _ = cancer
    search = GridSearchCV(
        SoftQuantizerClassifier(random_state=0, **{**FAST, "max_epochs": 3}),
        {"n_bits": [1, 3], "hidden_layer_sizes": [(8,), (16,)]},
        cv=StratifiedKFold(2),
    )
    with parallel_backend("dask"):
        on_dask = search.fit(X_train, y_train).cv_results_
    assert len(client.scheduler_info()["workers"]) == 2
    on_loky = GridSearchCV(
        search.estimator, search.param_grid, cv=StratifiedKFold(2), n_jobs=2
    ).fit(X_train, y_train)
    np.testing.assert_array_equal(
        on_dask["mean_test_score"], on_loky.cv_results_["mean_test_score"]
    )


@pytest.fixture(scope="module")
def model_and_rows(cancer):
    """A fitted model and a million rows made block by block on the workers."""
    X_train, _, y_train, _ = cancer
    sq = SoftQuantizerClassifier(4, random_state=0, **{**FAST, "max_epochs": 2})
    sq.fit(X_train, y_train)
    noise = da.random.default_rng(0).normal(size=(1_000_000, 30), chunks=(100_000, 30))
    rows = (noise * X_train.std(0) + X_train.mean(0)).astype(np.float32)
    return sq, rows


@pytest.mark.slow
def test_a_chunked_dask_array_gives_the_same_bytes_and_predictions(
    client, model_and_rows
):
    sq, X = model_and_rows
    packed = X.map_blocks(
        sq.transform, dtype=np.uint8, chunks=(X.chunks[0], (sq.bytes_per_row_,))
    )
    predicted = packed.map_blocks(
        sq.predict_packed, dtype=sq.classes_.dtype, drop_axis=1
    )
    rows, packed_here, predicted_here = client.compute(
        [X, packed, predicted], sync=True
    )
    expected = sq.transform(rows)
    np.testing.assert_array_equal(packed_here, expected)
    np.testing.assert_array_equal(predicted_here, sq.predict_packed(expected))


def transform_partition(part: pd.DataFrame, sq) -> pd.DataFrame:
    return pd.DataFrame(sq.transform(part.to_numpy()), index=part.index)


@pytest.mark.slow
def test_a_dask_dataframe_gives_the_same_bytes(client, model_and_rows):
    sq, X = model_and_rows
    frame = dd.from_dask_array(X)
    meta = pd.DataFrame({j: np.array([], np.uint8) for j in range(sq.bytes_per_row_)})
    packed = frame.map_partitions(transform_partition, sq, meta=meta)
    result = client.compute(packed, sync=True)
    rows = client.compute(X, sync=True)
    np.testing.assert_array_equal(result.to_numpy(), sq.transform(rows))


def test_dask_names_an_estimator_by_its_parameters_and_fitted_state(model_and_rows):
    import pickle

    from dask.base import tokenize

    sq, _ = model_and_rows
    assert tokenize(sq) == tokenize(sq) == tokenize(pickle.loads(pickle.dumps(sq)))
    unfitted = SoftQuantizerClassifier(4, random_state=0, **{**FAST, "max_epochs": 2})
    assert tokenize(unfitted) != tokenize(sq)
    assert tokenize(unfitted.set_params(max_epochs=3)) != tokenize(
        SoftQuantizerClassifier(4, random_state=0, **FAST)
    )
