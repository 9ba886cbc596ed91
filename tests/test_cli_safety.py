"""The command line never overwrites its inputs, never prints a traceback for a
user's mistake, reads packed files by their content, and says which task it
chose and why (in-process through ``main``: fast)."""

import gzip

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from sklearn_bsq import load
from sklearn_bsq.__main__ import main

QUICK = ["--param", "max_epochs=1", "--param", "hidden_layer_sizes=[8]"]


def quick_fit(table, output, *extra):
    """``fit`` argv for a one-epoch model of ``table`` on all rows, to ``output``."""
    return (
        ["fit", str(table), "--target", "target", "--holdout", "0"]
        + QUICK
        + [str(e) for e in extra]
        + ["-o", str(output)]
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    load_diabetes(as_frame=True).frame.to_csv(folder / "d.csv", index=False)
    assert main(quick_fit(folder / "d.csv", folder / "m.npz")) == 0
    assert (
        main(
            [
                "transform",
                str(folder / "m.npz"),
                str(folder / "d.csv"),
                "-o",
                str(folder / "p.bin"),
            ]
        )
        == 0
    )
    return folder


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, message):
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "{f}/d.csv", "--target", "target", "-o", "{f}/d.csv"],
        ["transform", "{f}/m.npz", "{f}/d.csv", "-o", "{f}/d.csv"],
        ["transform", "{f}/m.npz", "{f}/d.csv", "-o", "{f}/m.npz"],
        ["predict", "{f}/m.npz", "--packed", "{f}/p.bin", "-o", "{f}/m.npz"],
        ["predict", "{f}/m.npz", "--packed", "{f}/p.bin", "-o", "{f}/p.bin"],
        ["export", "{f}/m.npz", "--lang", "c", "-o", "{f}/m.npz"],
    ],
)
def test_no_command_writes_over_its_input(folder, capsys, argv):
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code, _, err = run([a.format(f=folder) for a in argv], capsys)
    _one_line_error(code, err, "is the input")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_the_same_file_by_another_name_is_an_input_too(folder, capsys):
    (folder / "alias.csv").unlink(missing_ok=True)
    (folder / "alias.csv").symlink_to(folder / "d.csv")
    code, _, err = run(
        ["fit", folder / "d.csv", "--target", "target", "-o", folder / "alias.csv"],
        capsys,
    )
    _one_line_error(code, err, "is the input")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["-o", "{f}"], "is a directory"),
        (["-o", ""], "-o needs a file name"),
        (["-o", "{f}/no/such/m.npz"], "no such directory"),
        (["--param", "random_state=5", "-o", "{f}/x.npz"], "--seed"),
        (["--param", "hidden_layer_sizes=[0]", "-o", "{f}/x.npz"], "positive ints"),
    ],
)
def test_mistakes_are_caught_before_training(folder, capsys, extra, message):
    argv = ["fit", folder / "d.csv", "--target", "target"]
    code, out, err = run(argv + [e.format(f=folder) for e in extra], capsys)
    _one_line_error(code, err, message)
    assert "task:" not in out  # nothing trained


def test_a_diverging_fit_is_one_line(folder, capsys):
    code, _, err = run(
        quick_fit(folder / "d.csv", folder / "x.npz", "--param", "lr=1e308"), capsys
    )
    _one_line_error(code, err, "training loss became")
    assert not (folder / "x.npz").exists()


def test_damaged_and_empty_tables_are_one_line(folder, capsys):
    rows = np.random.default_rng(0).normal(size=(500, 2))
    csv = pd.DataFrame(rows, columns=["a", "b"]).to_csv(index=False).encode()
    whole = gzip.compress(csv)
    for name, data in [
        ("damaged.csv.gz", whole[:10] + b"garbage!" * 8),
        ("truncated.csv.gz", whole[: len(whole) // 2]),
    ]:
        (folder / name).write_bytes(data)
        code, _, err = run(
            ["fit", folder / name, "--target", "b", "-o", folder / "x.npz"], capsys
        )
        _one_line_error(code, err, "is not a readable table")
    (folder / "empty.csv").write_text("a,b,target\n")
    code, _, err = run(
        ["fit", folder / "empty.csv", "--target", "target", "-o", folder / "x.npz"],
        capsys,
    )
    _one_line_error(code, err, "has a header but no rows")
    for separator in (";", "\t"):
        table = pd.DataFrame(rows, columns=["a", "b"])
        table.to_csv(folder / "other.csv", index=False, sep=separator)
        code, _, err = run(
            ["fit", folder / "other.csv", "--target", "b", "-o", folder / "x.npz"],
            capsys,
        )
        _one_line_error(code, err, f"separated by {separator!r}, not commas")


def test_missing_values_in_held_out_rows_are_refused_before_training(folder, capsys):
    table = pd.read_csv(folder / "d.csv")
    table.loc[len(table) - 1, "bmi"] = np.nan
    table.to_csv(folder / "nan.csv", index=False)
    code, out, err = run(
        ["fit", folder / "nan.csv", "--target", "target", "-o", folder / "x.npz"],
        capsys,
    )
    _one_line_error(code, err, "missing values (1 in column 'bmi')")
    assert "task:" not in out


def test_an_integer_quantity_is_a_regression_and_the_choice_is_said(folder):
    model = load(folder / "m.npz")
    assert model.task_ == "regression"  # diabetes: 214 distinct whole numbers


def test_the_task_and_why_are_printed(folder, capsys):
    code, out, _ = run(quick_fit(folder / "d.csv", folder / "again.npz"), capsys)
    assert code == 0
    assert "task: regression (214 distinct whole numbers" in out


@pytest.mark.parametrize("fmt", ["npy", "hex"])
def test_packed_files_are_read_by_their_content(folder, capsys, fmt):
    """npy or hex written to a .bin name is not read as raw bytes (it gave 328
    or 600 predictions for 200 rows)."""
    assert (
        main(
            [
                "transform",
                str(folder / "m.npz"),
                str(folder / "d.csv"),
                "--format",
                fmt,
                "-o",
                str(folder / f"{fmt}.bin"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    code, _, err = run(
        [
            "predict",
            folder / "m.npz",
            "--packed",
            folder / f"{fmt}.bin",
            "-o",
            folder / "out.csv",
        ],
        capsys,
    )
    _one_line_error(code, err, f"--packed-format {fmt}")
    code, out, _ = run(
        [
            "predict",
            folder / "m.npz",
            "--packed",
            folder / f"{fmt}.bin",
            "--packed-format",
            fmt,
            "-o",
            folder / "out.csv",
        ],
        capsys,
    )
    assert code == 0 and out.startswith("442 predictions")


def test_a_partial_row_is_an_error(folder, capsys):
    data = (folder / "p.bin").read_bytes()
    (folder / "short.bin").write_bytes(data[:-1])
    code, _, err = run(
        [
            "predict",
            folder / "m.npz",
            "--packed",
            folder / "short.bin",
            "-o",
            folder / "out.csv",
        ],
        capsys,
    )
    _one_line_error(code, err, "not a whole number of")


def test_predict_takes_a_table_or_bytes_not_both(folder, capsys):
    argv = ["predict", folder / "m.npz", folder / "d.csv", "--packed"]
    code, _, err = run([*argv, folder / "p.bin", "-o", folder / "both.csv"], capsys)
    _one_line_error(code, err, "a table (DATA) or --packed BYTES, not both")
    assert not (folder / "both.csv").exists()


def test_info_escapes_feature_names(folder, capsys):
    table = pd.read_csv(folder / "d.csv").rename(columns={"age": "age\x1b[2J\nfake"})
    table.to_csv(folder / "names.csv", index=False)
    assert main(quick_fit(folder / "names.csv", folder / "n.npz")) == 0
    capsys.readouterr()
    code, out, _ = run(["info", folder / "n.npz"], capsys)
    assert code == 0 and "\x1b" not in out and "age\\x1b[2J\\nfake" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("sklearn-bsq 0.")


@pytest.mark.parametrize(
    "param", ["hidden_layer_sizes=[1000000000]", "hidden_layer_sizes=[100000,100000]"]
)
def test_a_model_that_cannot_fit_in_memory_is_refused_with_its_size(
    folder, capsys, param
):
    code, _, err = run(
        ["fit", folder / "d.csv", "--target", "target", "--bits", "16"]
        + ["--param", param, "-o", folder / "x.npz"],
        capsys,
    )
    _one_line_error(code, err, "GiB, more than the")
    assert "use fewer bits per feature" in err


def test_a_negative_seed_is_refused_by_the_parser(folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "fit",
                str(folder / "d.csv"),
                "--target",
                "target",
                "--seed",
                "-1",
                "-o",
                str(folder / "x.npz"),
            ]
        )
    assert exit_.value.code == 2
    assert "a seed is in 0..2**32 - 1" in capsys.readouterr().err


def test_weights_left_all_zero_by_the_holdout_are_named(folder, capsys):
    """Positive weights only on the rows the holdout takes: the message names
    the holdout, not the weights column."""
    from sklearn.model_selection import train_test_split

    table = pd.read_csv(folder / "d.csv")
    _, held_out = train_test_split(np.arange(len(table)), test_size=0.5, random_state=3)
    table["w"] = 0.0
    table.loc[held_out, "w"] = 1.0
    table.to_csv(folder / "zero.csv", index=False)
    code, _, err = run(
        [
            "fit",
            folder / "zero.csv",
            "--target",
            "target",
            "--sample-weight",
            "w",
            "--holdout",
            "0.5",
            "--seed",
            "3",
            "-o",
            folder / "x.npz",
        ],
        capsys,
    )
    _one_line_error(code, err, "every row left for training after --holdout 0.5")


def test_fit_shows_its_epochs_on_a_terminal(folder, capsys, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    code, out, err = run(quick_fit(folder / "d.csv", folder / "tty.npz"), capsys)
    assert code == 0 and "train_loss" in err and "train_loss" not in out
