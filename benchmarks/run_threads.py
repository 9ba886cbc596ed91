"""Threads, idle and beside a busy process: fit and serve with 1 and 2 torch threads.

Usage: ``python benchmarks/run_threads.py [--epochs 4] [--repeats 2]``

On full california (the paper protocol's 90 % training split, 4 bits), side by side
in one run, once on an idle machine and once while a second Python process spins on
one core (``while True: pass``):

- ``fit`` of the default ``SoftQuantizerRegressor(4)`` (learned widths at 4 bits
  per feature on average: ``allocation="auto"``) and of ``FullPrecisionMLP``
  with ``n_threads=1`` (what ``"auto"`` trains on) and ``n_threads=2``, and of
  scikit-learn's ``MLPRegressor(hidden_layer_sizes=(128, 128), batch_size=256)``
  (numpy's BLAS threads, not torch's), all for ``--epochs`` passes over the data
  (``MLPRegressor``'s rule that stops after 10 passes without improvement is set
  to wait for all of them: left at 10, it stopped after 20 of 40 passes here);
- ``fit`` with every feature at 4 bits (``allocation="uniform"``, the former
  default; one thread): what learning the widths costs;
- ``predict_packed`` on every row with ``n_threads`` 1, 2 and ``"auto"`` (torch's
  setting less the cores other processes keep busy), in rows per second, the three
  interleaved (``--repeats`` rounds of three calls each).

Times are the best of ``--repeats``; read the ratios, which come from one run. Writes
``results/threads/summary.md`` (``--out DIR`` elsewhere).
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import time
import warnings
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor

from sklearn_bsq import FullPrecisionMLPRegressor, SoftQuantizerRegressor

sys.path.insert(0, str(Path(__file__).parent))
from datasets import data_dir, load  # noqa: E402
from run_speed import best_time, interleaved_best_times  # noqa: E402


class BusyCore:
    """A second process that keeps one core busy while the block runs."""

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)  # let it start spinning
        return self

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()


# the fit with every feature at 4 bits (the former default)
UNIFORM_WIDTHS_FIT = 'allocation="uniform" fit, 1 thread'


def threads_label(threads) -> str:
    if threads == "auto":
        return '"auto"'
    return f"{threads} thread{'s' if threads > 1 else ''}"


def clone_with_threads(model, threads):
    """The fitted ``model`` with another ``n_threads`` (a copy: the other
    settings' predictions run interleaved with it)."""
    twin = copy.deepcopy(model)
    return twin.set_params(n_threads=threads)


def measure(X, y, epochs: int, repeats: int) -> dict:
    times = {}
    for threads in (1, 2):
        common = dict(max_epochs=epochs, n_threads=threads, random_state=0)
        times[f"SoftQuantizer fit, {threads_label(threads)}"] = best_time(
            lambda c=common: SoftQuantizerRegressor(4, **c).fit(X, y), repeats
        )
        times[f"FullPrecisionMLP fit, {threads_label(threads)}"] = best_time(
            lambda c=common: FullPrecisionMLPRegressor(**c).fit(X, y), repeats
        )
    uniform = SoftQuantizerRegressor(
        4, allocation="uniform", max_epochs=epochs, n_threads=1, random_state=0
    )
    times[UNIFORM_WIDTHS_FIT] = best_time(lambda: uniform.fit(X, y), repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        peer = MLPRegressor(
            hidden_layer_sizes=(128, 128),
            batch_size=256,
            max_iter=epochs,
            n_iter_no_change=epochs,  # every pass, as the other fits run
            random_state=0,
        )
        times["MLPRegressor(128, 128) fit"] = best_time(lambda: peer.fit(X, y), repeats)
    if peer.n_iter_ != epochs:
        raise RuntimeError(f"MLPRegressor ran {peer.n_iter_} of {epochs} passes.")
    model = SoftQuantizerRegressor(4, max_epochs=1, random_state=0).fit(X, y)
    packed = model.transform(X)
    serving = {}
    for threads in (1, 2, "auto"):
        twin = clone_with_threads(model, threads)
        serving[f"predict_packed, {threads_label(threads)}"] = lambda m=twin: (
            m.predict_packed(packed)
        )
    # interleaved: the machine's speed drifts within seconds, alike for all three
    times.update(interleaved_best_times(serving, repeats))
    return times


def report(results: dict, n_rows: int, epochs: int) -> list[str]:
    lines = [
        f"| condition | {' | '.join(results['idle'])} |",
        "|---" * (len(results["idle"]) + 1) + "|",
    ]
    for condition, times in results.items():
        cells = []
        for name, seconds in times.items():
            if name.startswith("predict"):
                cells.append(f"{n_rows / seconds:,.0f} rows/s")
            else:
                cells.append(f"{seconds:.1f} s")
        lines.append(f"| {condition} | {' | '.join(cells)} |")
    lines.append("")
    for condition, t in results.items():
        peer = t["MLPRegressor(128, 128) fit"]
        for threads in (1, 2):
            sq = t[f"SoftQuantizer fit, {threads_label(threads)}"]
            fp = t[f"FullPrecisionMLP fit, {threads_label(threads)}"]
            label = threads_label(threads)
            lines.append(
                f"- {condition}, {label}: SoftQuantizer fit {sq / fp:.2f}x "
                f"FullPrecisionMLP's (target <= 2x), {sq / peer:.2f}x MLPRegressor's "
                "(target <= 3x)"
            )
        uniform, default = t[UNIFORM_WIDTHS_FIT], t["SoftQuantizer fit, 1 thread"]
        lines.append(
            f"- {condition}, 1 thread: the default (learned widths) fits in "
            f"{default / uniform:.2f}x the time of every feature at 4 bits "
            f'(allocation="uniform", '
            f"{uniform / t['FullPrecisionMLP fit, 1 thread']:.2f}x FullPrecisionMLP's)"
        )
        slow = t["SoftQuantizer fit, 2 threads"] / t["SoftQuantizer fit, 1 thread"]
        lines.append(f"- {condition}: 2 threads take {slow:.2f}x the time of 1 to fit")
        serve = {k: n_rows / t[f"predict_packed, {threads_label(k)}"] for k in (1, 2)}
        auto = n_rows / t['predict_packed, "auto"'] / max(serve.values())
        lines.append(
            f'- {condition}: predict_packed with "auto" at {auto:.2f}x the rows per '
            "second of the faster of 1 and 2 threads"
        )
    lines.append(
        f"\n{n_rows:,} training rows, {epochs} passes over them per fit; the default "
        "fit on full california runs 40."
    )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "threads"
    )
    args = parser.parse_args(argv)
    X, y, _ = load("california", data_dir(args.data_dir))
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.1, random_state=42)
    results = {}
    print("idle ...", flush=True)
    results["idle"] = measure(X_train, y_train, args.epochs, args.repeats)
    print("beside a busy process ...", flush=True)
    with BusyCore():
        results["busy"] = measure(X_train, y_train, args.epochs, args.repeats)
    lines = report(results, len(X_train), args.epochs)
    command = " ".join(["python benchmarks/run_threads.py", *(argv or sys.argv[1:])])
    text = ["# Threads, idle and busy", "", f"Generated by `{command.strip()}`.", ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text("\n".join(text + lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
