"""The main job: the demo's table and its command line."""

import numpy as np
import pytest

from sklearn_bsq.__main__ import main
from sklearn_bsq._demo import format_table, load_dataset, run_demo


def test_demo_rows_and_sizes():
    rows = run_demo("iris", bits=(1, 3), folds=2, estimator_params=dict(max_epochs=5))
    assert [r.label for r in rows] == ["float32", "1 bit", "3 bit"]
    # iris has 4 features: 16 bytes as float32, 1 byte at 1 or at 2 bits, 2 at 3 bits
    assert [r.bytes_per_sample for r in rows] == [16, 1, 2]
    assert [r.ratio for r in rows] == [1.0, 16.0, 8.0]
    assert all(len(r.scores) == 2 for r in rows)
    # iris is easy: float32 and 3 bits classify most flowers after 5 epochs
    assert min(rows[0].scores) > 0.7 and min(rows[2].scores) > 0.7
    table = format_table(rows, "classification")
    assert "test accuracy" in table and "16.0x" in table


def test_demo_command_line(capsys):
    assert main(["demo", "--dataset", "wine", "--bits", "2", "--folds", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 bit" in out and "float32" in out and "total time" in out


def test_csv_dataset(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,target\n1,2,0\n3,4,1\n5,6,0\n")
    X, y, task = load_dataset(str(path))
    assert X.dtype == np.float32 and X.shape == (3, 2) and y.tolist() == [0, 1, 0]


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")


def test_demo_usage_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--bits", "0"])
    assert exit_info.value.code == 2
    assert "bits must be 1..16, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--folds", "1"])
    assert exit_info.value.code == 2
    assert "at least 2 folds, got 1" in capsys.readouterr().err
    assert main(["demo", "--dataset", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sklearn-bsq: error:") and len(err.strip().splitlines()) == 1


def test_a_csv_with_class_labels_is_scored_by_accuracy(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    rows = "\n".join(f"{a},{b},{c},{int(a > 0)}" for a, b, c in X)
    (tmp_path / "d.csv").write_text("a,b,c,target\n" + rows + "\n")
    assert (
        main(
            [
                "demo",
                "--dataset",
                str(tmp_path / "d.csv"),
                "--bits",
                "2",
                "--folds",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "test accuracy" in out and "instead of a 32-bit float" in out
