"""The least test MSE that any model seeing only ``b``-bit codes can reach on the
smooth datasets, at equal-frequency thresholds and at the best thresholds.

Usage (from the repository root)::

    python benchmarks/floors.py                 # 4, 6 and 8 bits, seeds 42-44
    python benchmarks/floors.py --bits 4 --datasets friedman1

A model that receives a row's codes knows only the box (cell) of readings they
stand for, so its best prediction is the mean of the noiseless target over that
cell, and its error at least the noise plus the target's variance within the
cell. This script integrates that variance by Monte Carlo on the known Friedman
functions (``datasets.py``) and adds the noise of ``run_paper.py``'s test sets
(per seed a 90/10 split, the target standardized on the training part), so each
floor compares directly with the mean test MSE in ``results/smooth/summary.md``:

- equal-frequency thresholds, where a fit starts (the features are uniform, so a
  regular grid of their box);
- the best thresholds per feature, found by coordinate descent: each feature's
  cut points in turn, chosen exactly (dynamic programming over ``slices`` cut
  positions) for the cells of the other features of its term. Computed where the
  other features of a term have at most ``MAX_OTHER_CELLS`` cells (friedman1 at
  every width; friedman2 and friedman3 up to 4 bits).

Results go to ``results/smooth/floors.json``; ``run_smooth.py`` tables them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402

SEEDS = (42, 43, 44)
# the best thresholds are searched only where a feature's partners in its term
# have at most this many cells: the search draws samples_per_cell per cell and slice
MAX_OTHER_CELLS = 4096


def equal_frequency_thresholds(name: str, bits: int) -> list[np.ndarray]:
    """A regular grid of ``2**bits`` cells over each used feature's box."""
    low, high = map(np.asarray, datasets.FRIEDMAN_BOXES[name])
    steps = np.arange(1, 2**bits) / 2**bits
    return [low[j] + steps * (high[j] - low[j]) for j in range(low.size)]


def cell_bounds(thresholds, low, high, X) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of the cell each row of ``X`` falls in."""
    lower, upper = np.empty_like(X), np.empty_like(X)
    for j, t in enumerate(thresholds):
        edges = np.concatenate([[low[j]], np.sort(t), [high[j]]])
        k = np.clip(np.searchsorted(edges, X[:, j], side="right") - 1, 0, t.size)
        lower[:, j], upper[:, j] = edges[k], edges[k + 1]
    return lower, upper


def within_cell_variance(name, thresholds, cells=200_000, draws=16) -> float:
    """The noiseless target's expected variance within a cell (Monte Carlo with a
    fixed seed, so that two sets of thresholds are compared on the same draws)."""
    low, high = map(np.asarray, datasets.FRIEDMAN_BOXES[name])
    rng = np.random.default_rng(1)
    X = rng.uniform(low, high, size=(cells, low.size))  # a cell, by its volume
    lower, upper = cell_bounds(thresholds, low, high, X)
    u = rng.uniform(size=(cells, draws, low.size))
    points = lower[:, None, :] + u * (upper - lower)[:, None, :]
    return float(datasets.friedman_function(name)(points).var(axis=1, ddof=1).mean())


def floor_on_test_sets(name: str, thresholds, seeds=SEEDS) -> float:
    """Mean over ``seeds`` of the standardized test MSE that predicting each
    row's cell mean is expected to reach on ``run_paper.py``'s test sets: the
    noise those rows actually carry plus ``within_cell_variance``. (Scoring the
    cell means row by row instead adds a luck of a few tenths of a percent
    that depends on which test rows lie near a threshold.)"""
    from sklearn.model_selection import train_test_split

    X, y, _ = datasets.load(name, None)
    function = datasets.friedman_function(name)
    used = len(datasets.FRIEDMAN_BOXES[name][0])
    within = within_cell_variance(name, thresholds)
    errors = []
    for seed in seeds:
        # run_paper.paper_split's split and target scaling, on the raw readings
        _, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.1, random_state=seed
        )
        noise = ((y_test - function(X_test[:, :used].astype(np.float64))) ** 2).mean()
        errors.append(float((noise + within) / y_train.var()))
    return float(np.mean(errors))


def best_cuts(sums, squares, counts, cells: int) -> list[int]:
    """Exact split of ``len(sums) - 1`` slices into ``cells`` runs that minimizes
    the summed within-cell squared error. Row ``g`` of the inputs holds the
    prefix sums over slices ``< g``, one column per cell of the other features."""
    n = sums.shape[0] - 1
    cost = np.full((n + 1, n + 1), np.inf)
    for a in range(n):
        d_sum = sums[a + 1 :] - sums[a]
        d_count = counts[a + 1 :] - counts[a]
        d_square = squares[a + 1 :] - squares[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.where(d_count > 0, d_square - d_sum**2 / d_count, 0.0)
        cost[a, a + 1 :] = spread.sum(axis=1)
    best, back = cost[0].copy(), []
    for _ in range(cells - 1):
        total = best[:, None] + cost  # best split up to a, then one run a..b
        arg = total.argmin(axis=0)
        back.append(arg)
        best = total[arg, np.arange(n + 1)]
    cuts, end = [], n
    for arg in reversed(back):
        end = int(arg[end])
        cuts.append(end)
    return sorted(cuts)


def best_thresholds(
    name: str,
    bits: int,
    slices: int = 128,
    samples_per_cell: int = 16,
    rounds: int = 3,
    seed: int = 0,
) -> list[np.ndarray] | None:
    """Per used feature, the thresholds whose cells leave the least variance of
    the noiseless target (coordinate descent from equal frequency, one exact
    step per feature and round, kept where it lowers ``within_cell_variance``:
    where the target hardly depends on a feature, the step would otherwise follow
    the sampling noise); None where a term is too wide to search."""
    low, high = map(np.asarray, datasets.FRIEDMAN_BOXES[name])
    grid = 2**bits
    slices = max(slices, 4 * grid)  # room for every cut, and choice in placing it
    thresholds = equal_frequency_thresholds(name, bits)
    rng = np.random.default_rng(seed)
    for features, term in datasets.FRIEDMAN_TERMS[name]:
        if grid ** (len(features) - 1) > MAX_OTHER_CELLS:
            return None
        box_low, box_high = low[list(features)], high[list(features)]
        for _ in range(rounds if len(features) > 1 else 1):
            for i, j in enumerate(features):
                current = thresholds[j]
                others = [k for k in range(len(features)) if k != i]
                n_cells = grid ** len(others)
                draws = max(2000, samples_per_cell * n_cells)
                sums = np.zeros((slices + 1, n_cells))
                squares, counts = np.zeros_like(sums), np.zeros_like(sums)
                for g in range(slices):
                    x = rng.uniform(box_low, box_high, size=(draws, len(features)))
                    x[:, i] = box_low[i] + (g + rng.uniform(size=draws)) / slices * (
                        box_high[i] - box_low[i]
                    )
                    cell = np.zeros(draws, dtype=np.int64)
                    for k in others:
                        codes = np.searchsorted(thresholds[features[k]], x[:, k])
                        cell = cell * grid + codes
                    value = term(x)
                    sums[g + 1] = np.bincount(cell, value, n_cells)
                    squares[g + 1] = np.bincount(cell, value * value, n_cells)
                    counts[g + 1] = np.bincount(cell, minlength=n_cells)
                cuts = best_cuts(
                    sums.cumsum(0), squares.cumsum(0), counts.cumsum(0), grid
                )
                span = box_high[i] - box_low[i]
                before = within_cell_variance(name, thresholds)
                thresholds[j] = box_low[i] + np.asarray(cuts) / slices * span
                if within_cell_variance(name, thresholds) >= before:
                    thresholds[j] = current
    return thresholds


def compute(names, bits, seeds=SEEDS) -> dict:
    """``{name: {bits: {"seeds": [...], "equal-frequency": mse, "best": mse or
    None, "best_thresholds": [[...], ...] or None}}}``."""
    results = {}
    for name in names:
        for b in bits:
            best = best_thresholds(name, b)
            entry = {
                "seeds": list(seeds),
                "equal-frequency": floor_on_test_sets(
                    name, equal_frequency_thresholds(name, b), seeds
                ),
                "best": None if best is None else floor_on_test_sets(name, best, seeds),
                "best_thresholds": None
                if best is None
                else [np.round(t, 6).tolist() for t in best],
            }
            results.setdefault(name, {})[str(b)] = entry
            print(
                f"{name} {b} bits: equal-frequency {entry['equal-frequency']:.5f}, "
                f"best {entry['best'] if best is None else round(entry['best'], 5)}",
                flush=True,
            )
    return results


def update(path: Path, names, bits, seeds=SEEDS) -> dict:
    """Add the (dataset, width) floors missing from ``path``, or stored for
    other seeds; return all."""
    stored = json.loads(path.read_text()) if path.exists() else {}
    for name in names:
        entries = stored.get(name, {})
        missing = [
            b for b in bits if entries.get(str(b), {}).get("seeds") != list(seeds)
        ]
        if missing:
            for key, value in compute([name], missing, seeds)[name].items():
                stored.setdefault(name, {})[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return stored


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(datasets.SMOOTH))
    p.add_argument("--bits", nargs="+", type=int, default=[4, 6, 8])
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument(
        "--out",
        default=str(Path(__file__).parent / "results" / "smooth" / "floors.json"),
    )
    args = p.parse_args(argv)
    update(Path(args.out), args.datasets, args.bits, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
