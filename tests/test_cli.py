"""The command line on files (``_cli``), end to end through subprocesses."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_bsq import load

ROOT = Path(__file__).resolve().parents[1]
CLI_GUIDE = (ROOT / "docs" / "user_guide" / "cli.md").read_text()
BIN = Path(sys.executable).parent


def sh(command, cwd):
    """Run a shell line with this environment's scripts first on the PATH."""
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": f"{BIN}:/usr/bin:/bin"},
    )


@pytest.mark.slow
def test_the_session_of_the_command_line_guide_runs(tmp_path):
    session = re.search(r"```bash\n(.*?)```", CLI_GUIDE, flags=re.DOTALL).group(1)
    outputs = {}
    for line in session.strip().splitlines():
        result = sh(line, tmp_path)
        assert result.returncode == 0, (line, result.stderr)
        outputs[line.split()[1]] = result.stdout
    assert "held-out accuracy (20% of the rows)" in outputs["fit"]
    assert "8 bytes per row, 15.0x smaller" in outputs["fit"]
    model = load(tmp_path / "cancer.bsq.npz")
    table = pd.read_csv(tmp_path / "cancer.csv")
    packed = (tmp_path / "packets.bin").read_bytes()
    assert packed == model.transform(table.drop(columns="target")).tobytes()
    predictions = pd.read_csv(tmp_path / "predictions.csv")["prediction"]
    np.testing.assert_array_equal(
        predictions, model.predict(table.drop(columns="target"))
    )
    assert (
        f'#define BSQ_MODEL_ID "{model.model_id_}"' in (tmp_path / "bsq.h").read_text()
    )
    assert f"model {model.model_id_}" in outputs["info"]
    assert "n_heads 3 -> 1; on these 569 rows the same label" in outputs["distill"]
    server = load(tmp_path / "server.bsq.npz")
    assert server.model_id_ == model.model_id_ and server.n_heads == 1


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["y"] = frame.a * 2 + frame.b
    frame.to_csv(folder / "reg.csv", index=False)
    frame.assign(site="x").to_csv(folder / "text.csv", index=False)
    result = sh(
        "sklearn-bsq fit reg.csv --target y --bits 3 --holdout 0 "
        "--param max_epochs=5 -o reg.bsq.npz",
        folder,
    )
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.slow
def test_formats_of_transform_and_predict(files):
    for fmt, name in [("hex", "p.hex"), ("npy", "p.npy")]:
        assert (
            sh(
                f"sklearn-bsq transform reg.bsq.npz reg.csv --format {fmt} -o {name}",
                files,
            ).returncode
            == 0
        )
        result = sh(
            f"sklearn-bsq predict reg.bsq.npz --packed {name} -o {name}.csv", files
        )
        assert result.returncode == 0, result.stderr
    from_hex = pd.read_csv(files / "p.hex.csv")["prediction"]
    from_npy = pd.read_csv(files / "p.npy.csv")["prediction"]
    np.testing.assert_array_equal(from_hex, from_npy)
    assert (
        sh("sklearn-bsq export reg.bsq.npz --lang python -o enc.py", files).returncode
        == 0
    )
    assert "MODEL_ID" in (files / "enc.py").read_text()


@pytest.mark.slow
def test_entropy_coded_messages_through_transform_and_predict(files):
    model = load(files / "reg.bsq.npz")
    table = pd.read_csv(files / "reg.csv").drop(columns="y")
    expected = model.compress(table)
    for fmt, name in [("raw", "m.bin"), ("hex", "m.hex")]:
        result = sh(
            f"sklearn-bsq transform reg.bsq.npz reg.csv --coding entropy "
            f"--format {fmt} -o {name}",
            files,
        )
        assert result.returncode == 0, result.stderr
        assert f"{len(table)} messages" in result.stdout
        size = (files / name).stat().st_size
        assert f"({size:,} bytes with the file's framing" in result.stdout
        result = sh(
            f"sklearn-bsq predict reg.bsq.npz --packed {name} --coding entropy "
            f"-o {name}.csv",
            files,
        )
        assert result.returncode == 0, result.stderr
        got = pd.read_csv(files / f"{name}.csv")["prediction"]
        np.testing.assert_array_equal(got, model.predict(table))
    raw = (files / "m.bin").read_bytes()
    assert raw == b"".join(len(m).to_bytes(2, "big") + m for m in expected)
    (files / "cut.bin").write_bytes(raw[:-1])
    result = sh(
        "sklearn-bsq predict reg.bsq.npz --packed cut.bin --coding entropy -o c.csv",
        files,
    )
    assert result.returncode == 2 and "ends inside message" in result.stderr


@pytest.mark.parametrize(
    "command, message",
    [
        (
            "transform reg.bsq.npz reg.csv --coding entropy --format npy -o m.npy",
            "messages vary in length",
        ),
        ("fit missing.csv --target y -o m.npz", "no such file: missing.csv"),
        ("fit reg.csv --target z -o m.npz", "no column 'z' in reg.csv"),
        ("fit text.csv --target y -o m.npz", "column 'site' has dtype"),
        ("fit reg.csv --target y --param speed=9 -o m.npz", "speed"),
        (
            "fit reg.csv --target y --param max_epochs -o m.npz",
            "--param takes name=value",
        ),
        ("predict reg.bsq.npz -o out.csv", "needs a table (DATA) or --packed"),
        ("info nothing.bsq.npz", "nothing.bsq.npz"),
    ],
)
def test_mistakes_are_one_line_with_exit_code_2(files, command, message):
    result = sh(f"sklearn-bsq {command}", files)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_from_argparse_exit_2(files):
    result = sh("sklearn-bsq fit reg.csv -o m.npz", files)  # no --target
    assert result.returncode == 2 and "--target" in result.stderr


@pytest.mark.slow
def test_fit_takes_a_weight_column_that_is_not_a_feature(files):
    table = pd.read_csv(files / "reg.csv")
    table.assign(w=(table.a > 0).astype(float)).to_csv(files / "w.csv", index=False)
    result = sh(
        "sklearn-bsq fit w.csv --target y --sample-weight w --holdout 0 "
        "--param max_epochs=2 -o w.bsq.npz",
        files,
    )
    assert result.returncode == 0, result.stderr
    model = load(files / "w.bsq.npz")
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]
    # rows of weight 0 take no part: the mean of a is that of the rows a > 0
    expected = table.a[table.a > 0].mean()
    assert model.feature_mean_[0] == pytest.approx(expected, rel=1e-6)
    result = sh("sklearn-bsq fit w.csv --target y --sample-weight v -o m.npz", files)
    assert result.returncode == 2 and "no column 'v' in w.csv" in result.stderr


@pytest.mark.slow
def test_distill_writes_a_model_of_fewer_heads_with_the_same_codec(files):
    result = sh(
        "sklearn-bsq distill reg.bsq.npz reg.csv --max-epochs 5 -o small.bsq.npz",
        files,
    )
    assert result.returncode == 0, result.stderr
    model, student = load(files / "reg.bsq.npz"), load(files / "small.bsq.npz")
    assert (model.n_heads, student.n_heads) == (3, 1)
    assert student.model_id_ == model.model_id_
    assert "n_heads 3 -> 1; on these 120 rows R2" in result.stdout
    table = pd.read_csv(files / "reg.csv").drop(columns="y")
    np.testing.assert_array_equal(student.transform(table), model.transform(table))
    result = sh("sklearn-bsq distill reg.bsq.npz reg.csv --heads 0 -o x.npz", files)
    assert result.returncode == 2 and "must be an int >= 1" in result.stderr
