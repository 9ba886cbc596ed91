"""Fit time of learned widths against one width for every feature, by bits.

Usage (from the repository root)::

    python benchmarks/learned_cost.py                  # 2, 4, 6 and 8 bits, 2 rounds
    python benchmarks/learned_cost.py --bits 4 --rounds 3
    python benchmarks/learned_cost.py --dataset cpu_act --bits 8 --rounds 1

Full california (or ``--dataset``), seed 42's split of the paper's protocol
(``run_paper.py``), one thread, the two models fitted alternately in one process so
that both see the same machine; the best of the rounds. "learned" is
``allocation="learned"`` at the same bits per feature on average (``run_paper.py``'s
``bsq-learned``, what the default does up to 4 bits), "uniform" every feature at that
width (``allocation="uniform"``, ``bsq-uniform``). The fit of learned widths adds a
wide first pass at ``n_bits + 2`` bits per feature (at most 16) for half the epochs,
and the bit removal. Writes ``results/paper/learned_cost_<dataset>.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
from paper_protocol import DATASETS  # noqa: E402
from run_paper import make_model, paper_split  # noqa: E402


def time_fits(
    folder, bits: list[int], rounds: int, dataset: str = "california"
) -> list[str]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _time_fits(folder, bits, rounds, dataset)
    finally:
        torch.set_num_threads(threads)


def _time_fits(folder, bits: list[int], rounds: int, dataset: str) -> list[str]:
    X, y, _ = datasets.load(dataset, folder)
    X_train, _, y_train, _ = paper_split(X, y, 42)
    methods = {"uniform": "bsq-uniform", "learned": "bsq-learned"}
    rows = [
        "| bits per feature | uniform (s) | learned (s) | learned / uniform | "
        "learned widths |",
        "|---|---|---|---|---|",
    ]
    for b in bits:
        seconds = {name: [] for name in methods}
        widths = None
        for _ in range(rounds):
            for name, method in methods.items():
                model = make_model(method, b, 42, {})
                start = time.perf_counter()
                model.fit(X_train, y_train)
                seconds[name].append(time.perf_counter() - start)
                if name == "learned":
                    widths = model.n_bits_.tolist()
            print(f"{b} bits: {seconds}", flush=True)
        best = {name: min(t) for name, t in seconds.items()}
        rows.append(
            f"| {b} | {best['uniform']:.1f} | {best['learned']:.1f} | "
            f"{best['learned'] / best['uniform']:.2f}x | {widths} |"
        )
    return [
        f"# Fit time of learned widths on {dataset}",
        f"Fit on full {dataset} ({len(y_train)} x {X.shape[1]}, seed 42), one "
        f"thread, alternating, best of {rounds} "
        f"(`python benchmarks/learned_cost.py --dataset {dataset} "
        f"--bits {' '.join(map(str, bits))} --rounds {rounds}`):",
        "\n".join(rows),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="california", choices=DATASETS)
    p.add_argument("--bits", nargs="+", type=int, default=[2, 4, 6, 8])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--data-dir", help="default $BSQ_DATA_DIR or ../shared/datasets")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "paper"))
    args = p.parse_args(argv)
    lines = time_fits(
        datasets.data_dir(args.data_dir), args.bits, args.rounds, args.dataset
    )
    print("\n\n".join(lines))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    out = Path(args.out) / f"learned_cost_{args.dataset}.md"
    out.write_text("\n\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
