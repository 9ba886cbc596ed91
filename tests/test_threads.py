"""``n_threads``: how many torch threads a fit and a prediction use, and that the
caller's setting comes back."""

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from skorch import NeuralNet

from sklearn_bsq import FullPrecisionMLP, SoftQuantizer, _threads, load, save
from sklearn_bsq._generators import caller_random_state_kept

X, y = load_iris(return_X_y=True)


@pytest.fixture(autouse=True)
def fresh_looks(monkeypatch):
    """Every look at the other processes is new (none remembered between tests)."""
    monkeypatch.setattr(_threads, "LOAD_CHECK_SECONDS", 0.0)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def record_threads(monkeypatch, cls, name):
    """Replace ``cls.name`` by a wrapper that records torch's thread count."""
    seen = []
    original = getattr(cls, name)

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, recording)
    return seen


def test_auto_fits_on_one_thread_and_predicts_small_calls_on_the_callers(
    two_threads, monkeypatch
):
    fits = record_threads(monkeypatch, NeuralNet, "partial_fit")  # fit calls it
    model = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    assert fits == [1] and torch.get_num_threads() == 2
    predictions = record_threads(monkeypatch, type(model.net_.module_), "forward")
    model.predict(X)
    assert predictions == [2] and torch.get_num_threads() == 2


def test_a_given_count_applies_to_fit_and_predictions(two_threads, monkeypatch):
    torch.set_num_threads(1)
    fits = record_threads(monkeypatch, NeuralNet, "partial_fit")
    model = SoftQuantizer(2, max_epochs=2, n_threads=2, random_state=0).fit(X, y)
    predictions = record_threads(monkeypatch, type(model.net_.module_), "forward")
    model.predict_packed(model.transform(X))
    assert fits == [2] and predictions == [2]
    assert torch.get_num_threads() == 1  # the caller's setting is back


def test_full_precision_and_partial_fit_use_it_too(two_threads, monkeypatch):
    fits = record_threads(monkeypatch, NeuralNet, "partial_fit")
    mlp = FullPrecisionMLP(max_epochs=2, n_threads=2, random_state=0)
    torch.set_num_threads(1)
    mlp.fit(X, y)
    predictions = record_threads(monkeypatch, type(mlp.net_.module_), "forward")
    mlp.predict(X)
    streamed = SoftQuantizer(2, max_epochs=2, random_state=0).partial_fit(X, y)
    streamed.partial_fit(X, y)
    assert fits == [2, 1, 1] and predictions == [2]
    assert torch.get_num_threads() == 1


def test_a_failing_fit_restores_the_callers_setting(two_threads):
    with pytest.raises(ValueError, match="NaN"):
        SoftQuantizer(2, max_epochs=2).fit(np.full_like(X, np.nan), y)
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, "many", True])
def test_bad_thread_counts_are_refused_with_the_fix(bad):
    with pytest.raises(ValueError, match="n_threads"):
        SoftQuantizer(2, max_epochs=1, n_threads=bad).fit(X, y)
    model = SoftQuantizer(2, max_epochs=1, random_state=0).fit(X, y)
    model.n_threads = bad  # set after fit: refused at prediction, not inside torch
    with pytest.raises(ValueError, match="n_threads must be 'auto' or an int >= 1"):
        model.predict(X)


def test_one_or_two_threads_train_the_same_network(tmp_path):
    one = SoftQuantizer(3, max_epochs=3, n_threads=1, random_state=0).fit(X, y)
    two = SoftQuantizer(3, max_epochs=3, n_threads=2, random_state=0).fit(X, y)
    assert one.model_id_ == two.model_id_  # the same thresholds, so the same bytes
    np.testing.assert_allclose(
        one.predict_proba(X), two.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    save(two, tmp_path / "m.bsq.npz")
    assert load(tmp_path / "m.bsq.npz").n_threads == 2


def fake_proc(tmp_path, running: int, own_states: list[str]):
    """A /proc/loadavg with ``running`` runnable threads and a task folder with
    one stat file per own thread in the given states."""
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.52 0.61 0.70 {running}/321 4242\n")
    tasks = tmp_path / "task"
    for i, state in enumerate(own_states):
        (tasks / str(100 + i)).mkdir(parents=True)
        # a command name with a space and a parenthesis, as the kernel allows
        (tasks / str(100 + i) / "stat").write_text(
            f"{100 + i} (py (x) 1) {state} 1 2 3"
        )
    return str(loadavg), str(tasks)


def test_other_processes_are_counted_without_this_ones_threads(tmp_path):
    loadavg, tasks = fake_proc(tmp_path, running=3, own_states=["R", "S", "R"])
    assert _threads.runnable_elsewhere(loadavg, tasks) == 1
    assert _threads.runnable_elsewhere(str(tmp_path / "absent"), tasks) is None
    (tmp_path / "loadavg").write_text("garbage")
    assert _threads.runnable_elsewhere(loadavg, tasks) is None


@pytest.mark.parametrize(
    ("others", "expected"), [(None, None), (0, None), (1, 1), (5, 1)]
)
def test_auto_predicts_on_the_cores_others_leave(
    two_threads, monkeypatch, others, expected
):
    """With two cores for this process and torch on two threads: one thread as
    soon as another process runs, torch's setting when none does or the count
    cannot be read."""
    monkeypatch.setattr(_threads, "runnable_elsewhere", lambda: others)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    model = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    rows = np.resize(X, (_threads.LOAD_CHECK_MIN_ROWS, X.shape[1]))
    seen = record_threads(monkeypatch, type(model.net_.module_), "forward")
    model.predict(rows)
    assert seen == [2 if expected is None else expected]
    assert torch.get_num_threads() == 2


def test_a_look_is_the_least_of_its_counts_and_is_remembered(monkeypatch):
    counts = iter([2, 1, 3, 0, 5])
    monkeypatch.setattr(_threads, "runnable_elsewhere", lambda: next(counts))
    assert _threads.busy_elsewhere() == 1  # 2, 1, 3: a transient thread is dropped
    assert _threads.busy_elsewhere() == 0  # stops at the first zero
    monkeypatch.setattr(_threads, "LOAD_CHECK_SECONDS", 60.0)
    assert _threads.busy_elsewhere() == 0  # remembered: no count taken
    assert next(counts) == 5


def test_small_predictions_do_not_look_at_other_processes(two_threads, monkeypatch):
    def fail():
        raise AssertionError("looked at the other processes")

    monkeypatch.setattr(_threads, "runnable_elsewhere", fail)
    model = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    model.predict(X[: _threads.LOAD_CHECK_MIN_ROWS - 1])
    with pytest.raises(AssertionError, match="looked"):
        model.predict(np.resize(X, (_threads.LOAD_CHECK_MIN_ROWS, X.shape[1])))


@pytest.mark.skipif(
    not os.path.exists("/proc/loadavg") or len(os.sched_getaffinity(0)) < 2,
    reason="needs Linux's /proc and two cores",
)
def test_auto_gives_a_core_to_a_busy_process(monkeypatch):
    """A real process spinning on a core: with torch set to one thread per
    core, "auto" predicts on fewer, so no product waits for a thread that
    shares its core with the spinner."""
    cores = len(os.sched_getaffinity(0))
    before = torch.get_num_threads()
    torch.set_num_threads(cores)
    model = SoftQuantizer(2, max_epochs=2, random_state=0).fit(X, y)
    rows = np.resize(X, (1000, X.shape[1]))
    seen = record_threads(monkeypatch, type(model.net_.module_), "forward")
    # the spinner says when its start-up (imports that wait on the disk) is over
    spinner = subprocess.Popen(
        [sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert spinner.stdout.readline().strip() == "spinning"
        deadline = time.monotonic() + 10
        while not _threads.runnable_elsewhere() and time.monotonic() < deadline:
            time.sleep(0.05)
        model.predict(rows)
    finally:
        spinner.kill()
        spinner.wait()
        spinner.stdout.close()
        torch.set_num_threads(before)
    assert 1 <= seen[0] < cores


def test_fits_in_threads_give_the_bytes_their_seeds_give_alone(tmp_path):
    # torch's generators are one per process: without the lock, fits in
    # threads drew each other's dropout masks (joblib's threading backend, a
    # Dask worker's threads).
    def fit(seed):
        model = SoftQuantizer(3, max_epochs=4, dropout=0.3, random_state=seed)
        return model.fit(X, y).transform(X)

    def save_and_load(_):
        save(alone_model, tmp_path / "m.npz")
        return load(tmp_path / "m.npz").transform(X)

    alone = [fit(0), fit(1)]
    alone_model = SoftQuantizer(2, max_epochs=1, random_state=0).fit(X, y)
    with ThreadPoolExecutor(4) as pool:
        fits = [pool.submit(fit, seed) for seed in (0, 1, 0, 1)]
        loads = [pool.submit(save_and_load, i) for i in range(4)]
        for i, done in enumerate(fits):
            np.testing.assert_array_equal(done.result(), alone[i % 2])
        for done in loads:
            np.testing.assert_array_equal(done.result(), alone_model.transform(X))


def test_load_and_predictions_do_not_wait_for_a_fit_in_another_thread(tmp_path):
    model = SoftQuantizer(2, max_epochs=1, random_state=0).fit(X, y)
    save(model, tmp_path / "m.npz")
    training, done = threading.Event(), threading.Event()

    def a_long_fit():  # holds torch's generators as training does
        with caller_random_state_kept():
            training.set()
            done.wait(timeout=60)

    fit = threading.Thread(target=a_long_fit)
    fit.start()
    try:
        training.wait(timeout=30)
        with ThreadPoolExecutor(1) as pool:
            loaded = pool.submit(lambda: load(tmp_path / "m.npz").predict(X))
            np.testing.assert_array_equal(loaded.result(timeout=30), model.predict(X))
    finally:
        done.set()
        fit.join()
