"""The benchmark harnesses: --quick runs end to end (CI smoke tests), and the
allocation summary compares with the baselines over the same seeds only."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"


def run_quick(script: str, out) -> None:
    """Run a benchmark script's ``--quick`` mode into ``out`` (skip without data)."""
    if not (DATA / "MagicTelescope.csv.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the datasets at {DATA}")
        pytest.skip("the shared datasets are not beside this checkout")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / script),
            "--quick",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_quick_benchmark(tmp_path):
    run_quick("run_accuracy.py", tmp_path)
    out = tmp_path / "quick"
    lines = (out / "runs.csv").read_text().splitlines()
    assert len(lines) == 1 + 3 * (1 + 8 * 2)  # header + 3 datasets x 17 runs
    summary = (out / "summary.md").read_text()
    assert "Within 1 % of float32 at 4 bits" in summary
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "MagicTelescope.png",
        "satimage.png",
        "wine_quality.png",
    ]


@pytest.mark.slow
def test_quick_allocation_benchmark(tmp_path):
    run_quick("run_allocation.py", tmp_path)
    import pandas as pd

    out = tmp_path / "quick"
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs.method) == ["bsq-learned"] * 2 + ["bsq-levels"] * 2
    for run in runs.itertuples():
        widths = [int(b) for b in run.widths.split()]
        if run.method == "bsq-learned":
            assert sum(widths) == 2 * len(widths)  # the budget, spent
        else:
            assert set(widths) == {2}
    summary = (out / "summary.md").read_text()
    assert "learned better on" in summary and "cost ratio" in summary
    assert (out / "allocation.png").stat().st_size > 0


def _allocation_runs(seeds, uniform, learned):
    """Runs of both allocation methods on one dataset at 2 bits."""
    import pandas as pd

    rows = [
        dict(
            dataset="toy",
            metric="accuracy",
            bits=2,
            seed=s,
            method=method,
            score=score,
            fit_seconds=1.0,
            widths="2 2" if method == "bsq-levels" else "3 1",
        )
        for s in seeds
        for method, score in (("bsq-levels", uniform), ("bsq-learned", learned))
    ]
    return pd.DataFrame(rows)


def test_allocation_baselines_compared_over_the_same_seeds(tmp_path):
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_allocation
    import summarize

    baseline = tmp_path / "runs.csv"
    # Baselines on seeds 0-2 only, the best (kbins-uniform) at 0.80; both
    # methods above it.
    pd.DataFrame(
        [
            dict(dataset="toy", bits=2, seed=s, method=m, score=0.80 - 0.01 * i)
            for s in range(3)
            for i, m in enumerate(summarize.BASELINES)
        ]
    ).to_csv(baseline, index=False)
    table = run_allocation.compare(_allocation_runs(range(3), 0.81, 0.82))
    lines = run_allocation.against_baselines(table, baseline)
    assert "| toy | 2 | kbins-uniform 0.8000 | yes | yes |" in lines
    assert (
        "- 2 bits, learned widths: better than every baseline on 1 of 1 datasets"
        in lines
    )
    # Ten seeds: the baselines lack seeds 3-9, so nothing is compared.
    table = run_allocation.compare(_allocation_runs(range(10), 0.81, 0.82))
    assert run_allocation.against_baselines(table, baseline) == []


@pytest.mark.slow
def test_quick_paper_benchmark(tmp_path):
    import pandas as pd

    run_quick("run_paper.py", tmp_path)
    out = tmp_path / "quick"
    runs = pd.read_csv(out / "runs.csv")
    n_methods = len(set(runs.method))
    assert len(runs) == 1 + (n_methods - 1) * 2  # float32 once, the others at 2 and 4
    assert set(runs.dataset) == {"cpu_act"} and set(runs.seed) == {42}
    summary = (out / "summary.md").read_text()
    assert "| 4 | 0.019 | 0.019 |" in summary  # the paper's Bw-SQ and best baseline
    assert set(runs.epochs) == {3}  # --quick trains 3 epochs; the CSV says so
    assert "## Training epochs per fit" in summary and "| cpu_act | 3 |" in summary
    assert (out / "cpu_act.png").stat().st_size > 0


def test_paper_benchmark_will_not_append_to_a_csv_with_other_columns(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_paper

    runs = tmp_path / "runs.csv"  # as written before the epochs column
    old = "dataset,seed,method,bits,mse,fit_seconds,n_train\n"
    old += "cpu_act,42,float32,32,0.02,1.0,7372\n"
    runs.write_text(old)
    with pytest.raises(SystemExit, match="has the columns"):
        run_paper.main(
            ["--datasets", "cpu_act", "--methods", "float32", "--seeds", "43"]
            + ["--out", str(tmp_path)]
        )
    assert runs.read_text() == old  # nothing appended, nothing lost


def test_accuracy_benchmark_will_not_append_to_a_csv_of_other_columns(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_accuracy

    runs = tmp_path / "runs.csv"  # an allocation run's columns
    old = ",".join(run_accuracy.ALLOCATION_FIELDS) + "\n"
    runs.write_text(old)
    with pytest.raises(SystemExit, match="has the columns"):
        run_accuracy.main(
            ["--datasets", "cpu_act", "--methods", "float32", "--seeds", "0"]
            + ["--out", str(tmp_path)]
        )
    assert runs.read_text() == old


def _paper_runs(offset):
    """bsq-default runs at the paper's Bw-SQ plus ``offset`` in every cell, and a
    float32 MLP at 0.18, 0.02, 0.6 (seeds 42 and 43)."""
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from paper_protocol import BITS, PAPER

    rows = []
    for dataset, paper in PAPER.items():
        fp = {"california": 0.18, "cpu_act": 0.02, "wine_quality": 0.6}[dataset]
        for seed in (42, 43):
            rows.append(
                dict(
                    dataset=dataset,
                    seed=seed,
                    method="float32",
                    bits=32,
                    mse=fp,
                    fit_seconds=1.0,
                    n_train=10,
                )
            )
            for bits, mse in zip(BITS, paper["bwsq"], strict=True):
                rows.append(
                    dict(
                        dataset=dataset,
                        seed=seed,
                        method="bsq-default",
                        bits=bits,
                        mse=mse + offset,
                        fit_seconds=1.5,
                        n_train=10,
                    )
                )
    return pd.DataFrame(rows)


def test_paper_targets_are_counted_cell_by_cell():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import summarize_paper

    at_paper = summarize_paper.targets(summarize_paper.aggregate(_paper_runs(0.0)))
    assert "Bw-SQ: 21 of 21 cells (target 19 of 21): **met**" in at_paper[2]
    # the paper's best baseline beats its Bw-SQ at cpu_act 2 and 3 bits and at
    # wine_quality 8 bits
    assert "baselines: 18 of 21 cells (target all 21): **not met**" in at_paper[3]
    # california's float32 (0.18) beats Bw-SQ at 4 bits (0.185); cpu_act's (0.02)
    # and wine's (0.6) are above every cell from 4 bits
    assert "2 of 3 datasets (cpu_act, wine_quality" in at_paper[4]
    assert "1.5 s, 1.50x the float32 MLP's" in at_paper[5]

    worse = summarize_paper.targets(summarize_paper.aggregate(_paper_runs(0.002)))
    assert "Bw-SQ: 0 of 21 cells" in worse[2]


def test_seed_lines_name_a_dataset_whose_seeds_differ():
    """A width where one dataset ran fewer seeds is not reported with the union
    of the seeds: that dataset gets its own entry."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import summarize_paper

    runs = _paper_runs(0.0)
    even = summarize_paper.seed_lines(runs)
    assert "- bsq-default: 2 seeds (42, 43) at 2, 3, 4, 5, 6, 7, 8 bits" in even
    assert "- float32: 2 seeds (42, 43) at float32" in even

    fewer = (runs.dataset == "cpu_act") & (runs.bits == 8) & (runs.seed == 43)
    (line,) = [
        x for x in summarize_paper.seed_lines(runs[~fewer]) if "bsq-default" in x
    ]
    assert line == (
        "- bsq-default: 2 seeds (42, 43) at 2, 3, 4, 5, 6, 7 bits; "
        "california: 2 seeds (42, 43) at 8 bits; cpu_act: 1 seed (42) at 8 bits; "
        "wine_quality: 2 seeds (42, 43) at 8 bits"
    )


def test_baselines_keep_five_heads_and_the_defaults_follow_the_library():
    """The committed baseline rows were measured with five heads; a rerun must
    reproduce them, while float32 and bsq-default run the library's defaults."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_paper

    from sklearn_bsq import FullPrecisionMLP

    library = FullPrecisionMLP().n_heads
    assert run_paper.make_model("bsq-default", 4, 42, {}).n_heads == library
    assert run_paper.make_model("float32", 4, 42, {}).n_heads == library
    for method in ("lsq", "bsq-levels", "bsq-thermometer"):
        assert run_paper.make_model(method, 4, 42, {}).n_heads == 5
    midpoints = run_paper.make_model("pr-qq", 4, 42, {})
    assert midpoints[-1].n_heads == 5
    # an explicit override wins for every method
    assert run_paper.make_model("lsq", 4, 42, {"n_heads": 2}).n_heads == 2
    assert run_paper.make_model("bsq-default", 4, 42, {"n_heads": 2}).n_heads == 2


def test_learned_widths_get_the_uniform_widths_bits_per_row_and_are_opt_in():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_paper

    from sklearn_bsq import SoftQuantizerRegressor

    auto = run_paper.make_model("bsq-learned", 4, 42, {})
    assert (auto.n_bits, auto.allocation, auto.bit_budget) == (4, "learned", None)
    assert auto.n_heads == SoftQuantizerRegressor().n_heads  # the default network
    assert "bsq-learned" not in run_paper.parse_args([]).methods
    assert run_paper.parse_args(["--methods", "bsq-learned"]).methods == ["bsq-learned"]


def test_accuracy_benchmark_takes_quantizer_parameters():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_accuracy

    args = run_accuracy.parse_args(
        ["--param", "threshold_lr=0.05", "--param", "steepness=[4, 64]"]
    )
    assert args.param == {"threshold_lr": 0.05, "steepness": (4, 64)}
    with pytest.raises(SystemExit):
        run_accuracy.parse_args(["--param", "threshold_lr"])


def test_smooth_summary_counts_the_default_against_its_width_targets(tmp_path):
    """Ratios to float32's mean: 6 and 8 bits pass within 3 %, 4 bits within 10 %."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_smooth

    rows = ["dataset,seed,method,bits,mse,fit_seconds,n_train,epochs"]
    for seed in (42, 43):
        rows.append(f"friedman2,{seed},float32,32,0.1000,1,10,40")
        # 4 bits 1.09x (met), 6 bits 1.02x (met), 8 bits 1.05x (missed)
        for bits, mse in ((4, 0.109), (6, 0.102), (8, 0.105)):
            rows.append(f"friedman2,{seed},bsq-default,{bits},{mse},1,10,40")
    runs = tmp_path / "runs.csv"
    runs.write_text("\n".join(rows) + "\n")
    text = run_smooth.summarize(runs)
    assert "Default within its target: 2 of 3 cells." in text
    assert "0.1050 (2) 1.050x" in text
    assert "| floor (" not in text  # no floors.json: no floor rows
    assert (tmp_path / "summary.md").read_text() == text
    floors = {
        "friedman2": {
            "4": {"equal-frequency": 0.108, "best": 0.104},
            "6": {"equal-frequency": 0.101, "best": 0.098},
        }
    }
    (tmp_path / "floors.json").write_text(json.dumps(floors))
    text = run_smooth.summarize(runs)
    assert (
        "| friedman2 | 0.1000 (2) | floor (equal-frequency) | 0.1080 1.080x "
        "| 0.1010 1.010x |  |" in text
    )
    assert (
        "| friedman2 | 0.1000 (2) | floor (best thresholds) | 0.1040 1.040x "
        "| 0.0980 0.980x |  |" in text
    )
    # the default's 0.102 at 6 bits (one width for all) against the floor's 0.098;
    # at 4 bits it learns the widths, which the floors of one width do not bound
    assert "friedman2 6 bits 1.041x (floor 0.980x float32)" in text
    assert "friedman2 4 bits" not in text


def test_smooth_datasets_are_generated_the_same_every_time():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import datasets

    X, y, task = datasets.load("friedman3", None)
    X_again, y_again, _ = datasets.load("friedman3", None)
    assert X.shape == (40_768, 4) and task == "regression"
    assert (X == X_again).all() and (y == y_again).all()


def test_friedman_functions_are_scikit_learns():
    """The floors integrate the same functions the smooth datasets sample."""
    from sklearn import datasets as generators

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import datasets

    for name in datasets.SMOOTH:
        low, high = datasets.FRIEDMAN_BOXES[name]
        options = {"n_features": 10} if name == "friedman1" else {}
        make = getattr(generators, f"make_{name}")
        X, y = make(n_samples=500, noise=0.0, random_state=1, **options)
        function = datasets.friedman_function(name)
        np.testing.assert_allclose(function(X[:, : len(low)]), y, rtol=1e-12)
        used = X[:, : len(low)]
        assert (used >= low).all() and (used <= high).all()


def test_floors_fall_to_the_test_sets_noise_with_the_width():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import datasets
    import floors

    levels = [
        floors.floor_on_test_sets(
            "friedman1", floors.equal_frequency_thresholds("friedman1", b), (42,)
        )
        for b in (2, 4, 8)
    ]
    assert levels[0] > levels[1] > levels[2]
    assert levels[0] > 3 * levels[2]  # 4 cells per feature lose most of the signal
    noise_share = datasets.SMOOTH_NOISE**2 / (1 + datasets.SMOOTH_NOISE**2)
    assert levels[2] < 1.01 * noise_share  # 256 cells per feature lose almost nothing


def test_best_cuts_finds_the_exact_split():
    """Slices of a step function: the least within-run error cuts at its steps."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import floors

    values = np.array([0, 0, 0, 5, 5, 1, 1, 1, 1, 1, 9, 9], dtype=float)[:, None]
    prefix = [np.vstack([[0.0], v.cumsum(0)]) for v in (values, values**2)]
    counts = np.arange(len(values) + 1, dtype=float)[:, None]
    assert floors.best_cuts(prefix[0], prefix[1], counts, 4) == [3, 5, 10]


def test_best_thresholds_beat_equal_frequency_where_the_target_bends():
    """friedman1 at 2 bits: its linear terms keep the regular grid, the parabola
    20 (x - 1/2)**2 gets a wide cell around its bottom, and the floor drops."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import floors

    best = floors.best_thresholds("friedman1", 2, rounds=1)
    regular = floors.equal_frequency_thresholds("friedman1", 2)
    for linear in (3, 4):
        np.testing.assert_allclose(best[linear], regular[linear], atol=0.02)
    edges = np.concatenate([[0.0], best[2], [1.0]])
    widths = np.diff(edges)
    flat = (
        widths.argmax()
    )  # one wide cell over the flat bottom, narrow ones up the sides
    assert edges[flat] < 0.5 < edges[flat + 1] and widths[flat] > 1.5 / 4
    assert widths[0] < 1 / 4 and widths[-1] < 1 / 4
    within = [floors.within_cell_variance("friedman1", t) for t in (best, regular)]
    assert within[0] < 0.97 * within[1]


def test_heads_summary_tables_accuracy_beside_serving_cost(tmp_path):
    """Each model's row: its cost, its speed against the peer and its mean MSE
    as a ratio to the most heads'; a student serves like a model of its heads.
    Rows written before students existed count as trained directly."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_heads

    rows = ["dataset,seed,n_heads,bits,mse,fit_seconds"]
    for seed, (one, five) in zip((42, 43), ((0.22, 0.20), (0.24, 0.20)), strict=True):
        rows += [f"california,{seed},1,4,{one},1", f"california,{seed},5,4,{five},3"]
    runs = tmp_path / "runs.csv"
    runs.write_text("\n".join(rows) + "\n")
    serving = {
        "peer": 2_000_000.0,
        "threads": 2,
        1: (4_000_000.0, 2.0, 1024, 16512),
        5: (800_000.0, 0.4, 5120, 82560),
    }
    text = run_heads.summarize(runs, serving)
    assert (
        "| n_heads=1 | 1,024 + 16,512 | 4,000,000 | 2.00x | "
        "0.2300 ± 0.0100 (2) 1.150x |" in text
    )
    assert (
        "| n_heads=5 | 5,120 + 82,560 | 800,000 | 0.40x | 0.2000 ± 0.0000 (2) |" in text
    )
    with runs.open("a") as f:  # a student, in a file with the new column
        f.write("california,42,1,4,0.21,5,5\n")
    runs.write_text(
        runs.read_text().replace("fit_seconds\n", "fit_seconds,distilled_from\n", 1)
    )
    text = run_heads.summarize(runs, serving)
    assert (
        "| n_heads=1, distilled from 5 | 1,024 + 16,512 | 4,000,000 | 2.00x | "
        "0.2100 ± 0.0000 (1) 1.050x |" in text
    )
    assert "| n_heads=1 | 1,024 + 16,512 | 4,000,000 | 2.00x | 0.2300" in text
    stored = tmp_path / "serving.json"
    stored.write_text(json.dumps({str(k): v for k, v in serving.items()}))
    assert run_heads.read_serving(stored) == {
        k: list(v) if isinstance(v, tuple) else v for k, v in serving.items()
    }
    assert "(not run)" in run_heads.summarize(runs, None)
    fits = {"teacher": 30.0, "distill": 24.0, "one head": 9.0, "rounds": 2}
    text = run_heads.summarize(runs, {**serving, "fit": fits})
    assert "five heads 30.0 s, then distilling them into one head 24.0 s (0.80x" in text


def test_floors_are_recomputed_only_for_other_seeds(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import floors

    path = tmp_path / "floors.json"
    stale = {"seeds": [1], "equal-frequency": 9.0, "best": 9.0, "best_thresholds": []}
    path.write_text(json.dumps({"friedman1": {"2": stale}}))
    entry = floors.update(path, ["friedman1"], [2], seeds=(42,))["friedman1"]["2"]
    assert entry["seeds"] == [42]
    assert entry["best"] < entry["equal-frequency"] < 1.0
    assert json.loads(path.read_text())["friedman1"]["2"] == entry

    def no_compute(*args, **kwargs):
        raise AssertionError("stored floors for these seeds are recomputed")

    monkeypatch.setattr(floors, "compute", no_compute)
    assert (
        floors.update(path, ["friedman1"], [2], seeds=(42,))["friedman1"]["2"] == entry
    )


def test_interleaved_timing_runs_every_path_in_every_round():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_speed import interleaved_best_times

    order = []
    paths = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    best = interleaved_best_times(paths, rounds=2, calls=3)
    assert order == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert set(best) == {"a", "b"} and all(0 <= t < 1 for t in best.values())


def test_paired_speed_reports_best_times_and_the_median_round():
    """Rows per second against a reference timed in the same rounds: the ratio of
    the best times, the per-round ratios' median and range, and a verdict that
    needs both to reach the target."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_speed import interleaved_round_times, paired_speed

    rounds = interleaved_round_times({"a": lambda: None}, rounds=4, calls=2)
    assert list(rounds) == ["a"] and len(rounds["a"]) == 4

    reference = [2.0, 2.0, 2.0, 1.0]  # seconds per round
    faster = [1.0, 1.0, 1.0, 1.0]  # 2x, 2x, 2x, 1x the reference's rows/s
    assert paired_speed(faster, reference, 1.0) == (
        "1.000x (best times); per round median 2.000x, 1.000x to 2.000x over 4 "
        "rounds; target >= 1x: met"
    )
    lucky = [4.0, 4.0, 4.0, 0.5]  # best time 2x, most rounds 0.5x
    assert paired_speed(lucky, reference, 1.0).endswith(
        "median 0.500x, 0.500x to 2.000x over 4 rounds; target >= 1x: met by the "
        "best times, not by the median round"
    )
    assert paired_speed([4.0] * 4, reference, 0.5).endswith("target >= 0.5x: missed")


def test_one_row_calls_are_reported_per_call_from_the_best_round():
    """A pass of ``ONE_ROW_CALLS`` one-row calls, timed in rounds: each path's
    best pass divided by the calls, in microseconds."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_speed import ONE_ROW_CALLS, one_row_lines

    per_call = 1e-6 * ONE_ROW_CALLS  # seconds per pass of 1 us calls
    lines = one_row_lines(
        {"torch": [300 * per_call, 280 * per_call], "onnx": [25 * per_call]},
        "default (3 heads)",
    )
    assert lines[0].startswith("One row per call, the default (3 heads)")
    assert lines[-2:] == ["| torch | 280 |", "| onnx | 25 |"]


def test_serving_targets_pick_each_models_fastest_path():
    """The default's and one head's fastest paths against the peer, and the
    default's fastest onnxruntime call size against its torch path."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_speed import PEER, PEER_PATH, target_lines

    torch_path = "torch, predict_packed"
    small, large = (
        "onnxruntime, packed, 512-row calls",
        "onnxruntime, packed, 4,096-row calls",
    )
    round_times = {
        ("california", PEER, PEER_PATH): [1.0, 1.0],
        ("california", "default (3 heads)", torch_path): [2.0, 2.0],
        ("california", "default (3 heads)", small): [3.0, 3.0],
        ("california", "default (3 heads)", large): [1.6, 1.8],
        ("california", "n_heads=1", torch_path): [0.5, 0.5],
        ("california", "n_heads=1", large): [0.8, 0.8],
        ("Ailerons", "default (3 heads)", torch_path): [0.1, 0.1],  # not california
    }
    lines = target_lines(round_times, "default (3 heads)")
    assert lines[2].startswith(f"- the default ({large}) vs {PEER}: 0.625x")
    assert lines[2].endswith(
        "median 0.590x, 0.556x to 0.625x over 2 rounds; target >= 0.5x: met"
    )
    assert lines[3].startswith(f"- n_heads=1 ({torch_path}) vs {PEER}: 2.000x")
    assert lines[4].startswith(f"- the default, {large} vs {torch_path}: 1.250x")
    assert lines[4].endswith(
        "median 1.181x, 1.111x to 1.250x over 2 rounds; target >= 1x: met"
    )


def test_leave_one_dataset_out_chooses_on_the_other_datasets():
    """Relative losses against float32 in both directions of the metric, and each
    fold's choice made without the held-out dataset's scores."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pandas as pd
    import run_lodo

    scores = {  # dataset: (metric, float32, default, levels)
        "a": ("mse", 1.0, 1.10, 1.00),
        "b": ("mse", 1.0, 1.10, 1.05),
        "c": ("accuracy", 0.8, 0.8, 0.4),
    }
    rows = []
    for dataset, (metric, *values) in scores.items():
        for method, bits, score in zip(
            ("float32", "bsq-default", "levels"), (32, 4, 4), values, strict=True
        ):
            for seed, noise in ((0, -0.01), (1, 0.01)):  # the mean over seeds counts
                rows.append(
                    dict(
                        dataset=dataset,
                        metric=metric,
                        method=method,
                        bits=bits,
                        seed=seed,
                        score=score + noise,
                        fit_seconds=1.0,
                        bytes_per_row=4,
                        code_entropy_bits=1.0,
                    )
                )
    losses = run_lodo.relative_losses(pd.DataFrame(rows), 4)
    assert list(losses.columns) == ["bsq-default", "levels"]  # no runs: no column
    np.testing.assert_allclose(losses.loc["a"], [0.10, 0.00], atol=1e-12)
    np.testing.assert_allclose(losses.loc["c"], [0.0, 0.5], atol=1e-12)
    folds = run_lodo.leave_one_out(losses).set_index("dataset")
    # a and b held out: c's large loss keeps the default; c held out: a and b
    # choose levels, which costs c half its accuracy
    assert list(folds["mean loss"]) == ["bsq-default", "bsq-default", "levels"]
    assert folds.at["c", "mean loss loss"] == pytest.approx(0.5)
    assert folds.at["c", "best"] == "bsq-default"
    # by rank, a held out: b and c tie (first and second each), the default first
    assert list(folds["mean rank"]) == ["bsq-default", "bsq-default", "levels"]
    text = "\n".join(run_lodo.summary_lines(pd.DataFrame(rows), [0, 1]))
    row = "| c | levels | +50.0 % | levels | +50.0 % | +0.0 % | bsq-default (+0.0 %) |"
    assert row in text
    assert "By mean loss: the default in 2 of 3 folds" in text
    assert "| datasets within 1 % of float32 | 1 | 1 |" in text


def test_lodo_reads_the_former_default_from_the_defaults_runs(tmp_path, monkeypatch):
    """allocation=uniform is not run again: its rows are results/defaults'
    bsq-uniform rows, renamed; other methods there stay out."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_lodo

    row = "wine_quality,regression,0,{},4,mse,{},1.0,3000,6,2.0\n"
    header = "dataset,task,seed,method,bits,metric,score,fit_seconds,n_train,"
    defaults = tmp_path / "defaults.csv"
    defaults.write_text(
        header
        + "bytes_per_row,code_entropy_bits\n"
        + "".join(
            row.format(m, s)
            for m, s in [
                ("bsq-default", 0.5),
                ("bsq-uniform", 0.6),
                ("bsq-learned", 0.4),
            ]
        )
    )
    lodo = tmp_path / "lodo.csv"
    lodo.write_text(header + "bytes_per_row,code_entropy_bits\n")
    monkeypatch.setattr(run_lodo, "DEFAULTS_CSV", defaults)
    runs = run_lodo.load_runs(lodo)
    assert dict(zip(runs.method, runs.score, strict=True)) == {
        "bsq-default": 0.5,
        "allocation=uniform": 0.6,
    }
    assert "allocation=uniform" in run_lodo.CANDIDATES
    args = run_lodo.parse_args(["--out", str(tmp_path)])
    planned = []
    monkeypatch.setattr(
        run_lodo.run_accuracy,
        "run_specs",
        lambda path, fields, todo, *rest: planned.extend(todo),
    )
    run_lodo.run_missing(args)
    assert planned and not any(c == "allocation=uniform" for _, _, c, _ in planned)


@pytest.mark.slow
def test_a_distilled_lodo_candidate_is_scored_on_the_default_runs_test_rows():
    """The student is fitted from the default's run and scored on the same test
    rows; its fit time includes the distillation."""
    if not (DATA / "wine_quality.csv.gz").exists():
        pytest.skip("the shared datasets are not beside this checkout")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_accuracy
    import run_lodo

    args = run_accuracy.parse_args([])
    args.max_train, args.max_test, args.max_epochs = 400, 300, 3
    # the candidate distills the former default: every feature at the width
    default = run_accuracy.run_one(("wine_quality", 0, "bsq-uniform", 4), DATA, args)
    student = run_lodo.run_candidate(
        ("wine_quality", 0, "distilled to 1 head", 4), DATA, args
    )
    assert student["method"] == "distilled to 1 head"
    assert student["metric"] == default["metric"] == "mse"
    assert student["bytes_per_row"] == default["bytes_per_row"]
    assert student["code_entropy_bits"] == default["code_entropy_bits"]  # same codes
    assert student["score"] != default["score"]
    assert 0 < student["score"] < 2 * default["score"]
    assert student["fit_seconds"] > 0


def test_learned_cost_times_both_models_at_the_same_bits_per_row(monkeypatch):
    if not (DATA / "california.csv.gz").exists():
        pytest.skip("the shared datasets are not beside this checkout")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import learned_cost
    import run_paper

    built = []

    def one_epoch(method, bits, seed, overrides):
        model = run_paper.make_model(method, bits, seed, overrides)
        built.append((method, model.get_params()["allocation"]))
        return model.set_params(max_epochs=1)

    monkeypatch.setattr(learned_cost, "make_model", one_epoch)
    import torch

    threads = torch.get_num_threads()
    lines = learned_cost.time_fits(DATA, [2], rounds=1)
    assert torch.get_num_threads() == threads  # one thread while timing only
    assert built == [("bsq-uniform", "uniform"), ("bsq-learned", "learned")]
    heading, header, table = lines[0], lines[1], lines[2].splitlines()
    assert heading == "# Fit time of learned widths on california"
    assert "--dataset california --bits 2 --rounds 1" in header
    row = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert row[0] == "2" and row[3].endswith("x")
    widths = json.loads(row[4])
    assert len(widths) == 8 and sum(widths) <= 2 * 8  # california's 8 features


def test_gpu_check_runs_its_checks_with_the_cpu_in_cudas_place(capsys, tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check

    args = ["--device", "cpu", "--rows", "1500", "--epochs", "1"]
    page = tmp_path / "results" / "gpu.md"
    assert gpu_check.main([*args, "--out", str(page)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the page to commit: the command, every printed line, the verdict
    text = page.read_text().splitlines()
    assert text[0] == "# GPU check"
    assert text[2].startswith(
        f"Generated by `python benchmarks/gpu_check.py {' '.join(args)}` ({lines[0]})."
    )
    assert text[4:-2] == [f"- {line}" for line in lines[1:]]
    assert text[-1] == "All 4 checks passed."
    gpu_check.write_page(page, ["--out=x.md", "--rows", "10"], lines[:3], [True, False])
    assert page.read_text().splitlines()[-1] == "1 of 2 checks failed."
    assert "gpu_check.py --rows 10` (" in page.read_text()
    assert lines[0].endswith("device cpu in CUDA's place")
    assert lines[2] == "bytes of the cpu model encoded on the CPU equal its own: True"
    assert lines[3].startswith("predict_proba_packed: cpu ")
    assert lines[3].endswith("max |difference| 0.00e+00")
    assert lines[4] == "saved on cpu, loaded on the CPU: same bytes True"
    from sklearn_bsq import SoftQuantizerRegressor

    heads = SoftQuantizerRegressor().n_heads
    assert lines[5].startswith(f"default regressor ({heads} heads) predict_packed: ")
    assert "predict_packed: cpu " in lines[5]
    assert lines[5].endswith("max |difference| 0.00e+00 of the largest prediction")
    import torch

    if not torch.cuda.is_available():
        refused = tmp_path / "refused.md"
        assert gpu_check.main(["--rows", "10", "--out", str(refused)]) == 2
        assert "no CUDA device" in capsys.readouterr().out
        assert not refused.exists()
