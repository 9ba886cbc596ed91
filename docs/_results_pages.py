"""The results pages, generated at build time from ``benchmarks/results/``.

Each page names the command that regenerates its numbers, includes the summary the
benchmark wrote (not a copy made by hand) and shows the benchmark's plots. The pages
are written to ``docs/results/`` (not committed), so the site always shows what the
repository holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ResultsPage:
    slug: str
    title: str
    commands: list[str]
    summaries: list[str]  # paths under benchmarks/results
    plots: list[str] = field(default_factory=list)  # glob patterns under it
    intro: str = ""


PAGES = [
    ResultsPage(
        "paper",
        "The paper's table (full data, the paper's protocol)",
        [
            "python benchmarks/run_paper.py",
            "python benchmarks/run_paper.py --methods bsq-learned bsq-uniform",
            "python benchmarks/run_paper.py --timing",
            "python benchmarks/learned_cost.py",
            "python benchmarks/learned_cost.py --dataset cpu_act --bits 4 8 --rounds 1",
        ],
        [
            "paper/summary.md",
            "paper/learned_cost_california.md",
            "paper/learned_cost_cpu_act.md",
        ],
        ["paper/*.png"],
        "Test MSE of the standardized target on california, cpu_act and "
        "wine_quality, 90/10 splits, seeds 42-51, against the paper's published means. "
        "bsq-uniform is the default with every feature at the width "
        '(allocation="uniform"; the default until allocation="auto", whose runs up '
        "to 4 bits were recorded as bsq-default then).",
    ),
    ResultsPage(
        "smooth",
        "Smooth data the defaults were not chosen on",
        [
            "python benchmarks/run_smooth.py",
            "python benchmarks/run_smooth.py --methods bsq-learned bsq-uniform",
        ],
        ["smooth/summary.md"],
        [],
        "scikit-learn's Friedman regressions at 40,768 rows under the paper's "
        "protocol, seeds 42-44: how close the default comes to float32 at 4, 6 and "
        "8 bits on data that played no part in choosing it.",
    ),
    ResultsPage(
        "lodo",
        "Leave one dataset out: would the defaults be chosen without it?",
        ["python benchmarks/run_lodo.py"],
        ["lodo/summary.md"],
        [],
        "The defaults chosen on the 14 datasets (width allocation, representation, "
        "threshold rate, number of heads) against the alternatives, at 2 and 4 bits: "
        "each dataset "
        "held out in turn, the candidate the other 13 choose, and what it scores on "
        "the one held out.",
    ),
    ResultsPage(
        "entropy",
        "Range-coded messages (format v2) against fixed widths",
        [
            "python benchmarks/run_entropy.py",
            "python benchmarks/encoder_cost.py > "
            "benchmarks/results/entropy/encoder_cost.txt",
        ],
        ["entropy/summary.md"],
        ["entropy/*.png"],
        "The default model at 1 to 8 bits on the 14 datasets (protocol of "
        "`run_accuracy.py`): mean message bits of the test rows in format v2 "
        "against the v1 row, and both rate-accuracy curves, with the default's "
        'learned widths (allocation="auto"); the run before them, every feature '
        "at the width, is in the history.",
    ),
    ResultsPage(
        "datasets",
        "14 datasets at 4,000 training rows",
        [
            "python benchmarks/run_accuracy.py --methods float32 bsq-default "
            "--bits 2 4 --out benchmarks/results/defaults",
            "python benchmarks/run_accuracy.py --methods kbins-uniform kbins-quantile "
            "kbins-kmeans lsq --bits 2 --out benchmarks/results/defaults",
        ],
        ["defaults/summary.md"],
        ["defaults/plots/*.png"],
        "The current defaults against float32 and four fixed or learned binnings "
        "(protocol: `benchmarks/README.md`). bsq-uniform: the default before "
        'allocation="auto", every feature at the width (its runs, recorded as '
        "bsq-default then; `--methods bsq-uniform` runs it again).",
    ),
    ResultsPage(
        "small",
        "Small data",
        ["python benchmarks/run_small.py"],
        ["small/summary.md"],
        ["small/small.png"],
        "The defaults on the datasets bundled with scikit-learn, 5-fold "
        "cross-validation.",
    ),
    ResultsPage(
        "allocation",
        "Learned bit budgets",
        ["python benchmarks/run_allocation.py"],
        ["allocation/summary.md", "allocation/ten-seeds/summary.md"],
        ["allocation/allocation.png"],
        '`n_bits="auto"` against one width for every feature at the same bits '
        "per sample.",
    ),
    ResultsPage(
        "speed",
        "Speed, memory and the device encoder",
        [
            "python benchmarks/run_speed.py",
            "python benchmarks/run_speed.py --server",
            "python benchmarks/encoder_cost.py",
            "python benchmarks/memory_estimate.py",
        ],
        [
            "speed/summary.md",
            "speed/server.md",
            "speed/earlier.md",
            "memory_estimate.md",
        ],
        ["speed/speed.png"],
    ),
    ResultsPage(
        "heads",
        "Accuracy against serving cost of n_heads",
        ["python benchmarks/run_heads.py"],
        ["heads/summary.md"],
        [],
        "What each MLP head of the default buys in accuracy (the paper's protocol at "
        "4 bits, 10 seeds) and costs on the server (`predict_packed` against "
        "scikit-learn's MLPRegressor(128, 128), side by side in one run), with "
        'the widths the default learns (allocation="auto").',
    ),
    ResultsPage(
        "threads",
        "Threads, idle and beside a busy process",
        [
            "python benchmarks/run_threads.py",
            "python benchmarks/run_threads.py --epochs 40 --repeats 2 "
            "--out benchmarks/results/threads/forty-epochs",
        ],
        ["threads/summary.md", "threads/forty-epochs/summary.md"],
    ),
    ResultsPage(
        "robustness",
        "Robustness of load",
        ["python benchmarks/fuzz_load.py"],
        ["fuzz_load.md"],
    ),
    ResultsPage(
        "history",
        "How the defaults were chosen",
        ["see each measurement"],
        ["history.md"],
        [],
        "The measurements behind each default, release by release, including the "
        "probes that were not adopted. `CHANGELOG.md` has the short version.",
    ),
    ResultsPage(
        "first-release",
        "The first release's 14-dataset run",
        ["python benchmarks/run_accuracy.py --hidden 64 64 --lr 3e-3 --batch-size 128"],
        ["summary.md"],
        ["plots/*.png"],
        "Every representation and width 1 to 8 bits with the first release's network "
        "(one 64-64 MLP, constant rate, no dropout); kept for the comparison of "
        "representations.",
    ),
]


def render(page: ResultsPage, results: Path, out_dir: Path) -> str:
    relative = Path("..", "..") / "benchmarks" / "results"
    lines = [f"# {page.title}", ""]
    if page.intro:
        lines += [page.intro, ""]
    lines += ["Regenerate with:", "", "```bash", *page.commands, "```", ""]
    for pattern in page.plots:
        for image in sorted(results.glob(pattern)):
            name = image.relative_to(results)
            lines += [f"```{{image}} {relative / name}", f":alt: {name}", "```", ""]
    for summary in page.summaries:
        if not (results / summary).is_file():
            raise FileNotFoundError(f"results page {page.slug!r}: no {summary}")
        lines += [
            f"```{{include}} {relative / summary}",
            ":heading-offset: 1",
            "```",
            "",
        ]
    return "\n".join(lines)


def write_results_pages(docs: Path) -> None:
    results = docs.parent / "benchmarks" / "results"
    out_dir = docs / "results"
    out_dir.mkdir(exist_ok=True)
    index = [
        "# Results",
        "",
        "Every number on these pages was measured by a script in `benchmarks/` and is "
        "read from `benchmarks/results/` when the site is built.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *(page.slug for page in PAGES),
        "```",
        "",
    ]
    pages = {"index": "\n".join(index)}
    pages.update({page.slug: render(page, results, out_dir) for page in PAGES})
    for slug, text in pages.items():
        path = out_dir / f"{slug}.md"
        # unchanged pages keep their time stamp, so incremental builds stay incremental
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
